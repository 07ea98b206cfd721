<?php
// An allocation loop: PHP's memory_limit stops it, or, with ?unlimited,
// the server's --memory-mib cap on the guest's memory.
if (isset($_GET['unlimited'])) {
    ini_set('memory_limit', '-1');
}
$a = [];
while (true) {
    $a[] = str_repeat('x', 1 << 20);
}
