<?php
// What must differ between two requests, even when both resume from one
// snapshot of php-cgi's start-up: randomness, session ids, time.
session_start();
header('Content-Type: application/json');
echo json_encode([
    'random_bytes' => bin2hex(random_bytes(16)),
    'random_int' => random_int(0, PHP_INT_MAX),
    'mt_rand' => mt_rand(),
    'uniqid' => uniqid('', true),
    'lcg' => (new \Random\Randomizer())->getFloat(0, 1),
    'session' => session_id(),
    'openssl' => bin2hex(openssl_random_pseudo_bytes(16)),
    'sodium' => bin2hex(sodium_crypto_secretbox_keygen()),
    'time' => microtime(true),
    'dl' => function_exists('dl'),
    'cwd' => getcwd(),
    'env' => getenv('KILN_DEMO'),
]);
