<?php
// Front controller: every path that names no file lands here.
$path = $_SERVER['PATH_INFO'] ?? '/';
if (preg_match('#^/api/items/(\d+)$#', $path, $m)) {
    header('Content-Type: application/json');
    echo json_encode([
        'id' => (int)$m[1],
        'name' => "item {$m[1]}",
        'path_info' => $path,
        'script_name' => $_SERVER['SCRIPT_NAME'],
        'method' => $_SERVER['REQUEST_METHOD'],
    ]);
    return;
}
if ($path !== '/') {
    http_response_code(404);
    echo "no route for " . htmlspecialchars($path) . "\n";
    return;
}
?>
<!doctype html>
<html>
<head><title>kiln serve demo</title><link rel="stylesheet" href="/css/site.css"></head>
<body>
<h1>Hello from PHP <?= PHP_VERSION ?> (<?= PHP_SAPI ?>)</h1>
<ul>
<li><a href="/form.php">a form</a></li>
<li><a href="/session.php">a session counter</a></li>
<li><a href="/api/items/7">a JSON API</a></li>
</ul>
</body>
</html>
