<?php
header('Content-Type: text/plain');
$f = $_FILES['file'] ?? null;
if (!$f || $f['error'] !== UPLOAD_ERR_OK) {
    http_response_code(400);
    echo "no file (error ", $f['error'] ?? 'none', ")\n";
    return;
}
$name = basename($f['name']);
if (!move_uploaded_file($f['tmp_name'], __DIR__ . "/uploads/$name")) {
    http_response_code(500);
    echo "move_uploaded_file failed\n";
    return;
}
echo "stored $name ", filesize(__DIR__ . "/uploads/$name"), " bytes\n";
