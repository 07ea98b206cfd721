<?php
$a = [];
while (true) {
    $a[] = str_repeat('x', 1 << 20);
}
