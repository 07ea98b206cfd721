<?php
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    header('Content-Type: text/plain');
    foreach ($_POST as $k => $v) {
        echo "$k=$v\n";
    }
    return;
}
?>
<form method="post"><input name="name"><input name="color"><button>send</button></form>
