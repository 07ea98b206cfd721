<?php
// kiln's POSIX file-semantics probe (PHP). Run in an empty working
// directory, natively and on wasm; each line is "case => outcome", and the
// two outputs are compared line by line (xtask/tests/all: posix_*).
// PHP reports a failed call as a warning carrying strerror()'s text; the
// text is mapped back to the errno name (glibc's and wasi-libc's wording).
const ERRNO = [
    'No such file or directory' => 'ENOENT', 'Not a directory' => 'ENOTDIR', 'File exists' => 'EEXIST',
    'Is a directory' => 'EISDIR', 'Directory not empty' => 'ENOTEMPTY',
    'Too many levels of symbolic links' => 'ELOOP', 'Symbolic link loop' => 'ELOOP',
    'Operation not permitted' => 'EPERM', 'Permission denied' => 'EACCES', 'Bad file descriptor' => 'EBADF',
    'Invalid argument' => 'EINVAL', 'Capabilities insufficient' => 'ENOTCAPABLE',
];

function outcome(callable $f): string {
    error_clear_last();
    try {
        $r = @$f();
    } catch (Throwable $t) {
        return get_class($t) . ": " . $t->getMessage();
    }
    $e = error_get_last();
    if ($e !== null) {
        $msg = $e['message'];
        foreach (ERRNO as $text => $name) {
            if (str_ends_with($msg, $text)) {
                return $name;
            }
        }
        return "warning: " . preg_replace('/^[a-z_]+\(\): /', '', $msg);
    }
    return json_encode($r);
}

function check(string $name, callable $f): void {
    echo "$name => ", outcome($f), "\n";
}

$here = getcwd();
$base = basename($here);
file_put_contents("f.txt", "data");
mkdir("d");
file_put_contents("d/inner", "x");

check("empty path: stat", fn() => stat("") !== false);
check("empty path: file_exists", fn() => file_exists(""));
check("empty path: is_dir", fn() => is_dir(""));
check("empty path: open", fn() => file_get_contents(""));
check("empty path: scandir", fn() => scandir(""));
check("empty path: opendir", fn() => opendir("") !== false);
check("empty path: mkdir", fn() => mkdir(""));
check("empty path: unlink", fn() => unlink(""));
check("trailing slash on a file: stat", fn() => stat("f.txt/") !== false);
check("trailing slash on a file: open", fn() => file_get_contents("f.txt/"));
check("trailing slash on a dir: is_dir", fn() => is_dir("d/"));
check("file as a directory: stat", fn() => stat("f.txt/x") !== false);
check("missing: stat", fn() => stat("missing") !== false);
check("dot-dot back into the root: relative", fn() => file_get_contents("../$base/f.txt"));
check("dot-dot back into the root: absolute", fn() => file_get_contents("$here/../$base/f.txt"));
check("dot-dot inside: d/../f.txt", fn() => file_get_contents("d/../f.txt"));
check("dot-dot above the root: parent lists it", fn() => in_array($base, scandir("$here/..")));
check("symlink: relative, read through", fn() => symlink("f.txt", "rel") ? file_get_contents("rel") : false);
check("symlink: readlink", fn() => readlink("rel"));
check("symlink: loop, stat", fn() => symlink("loop", "loop") ? stat("loop") !== false : false);
check("symlink: loop, is_link", fn() => is_link("loop"));
check("symlink: absolute target inside, read through", fn() => symlink("$here/f.txt", "abs") ? file_get_contents("abs") : false);
check("symlink: dangling, file_exists", fn() => symlink("nowhere", "dangling") ? file_exists("dangling") : false);
check("symlink: dangling, is_link", fn() => is_link("dangling"));
check("O_EXCL on an existing file", fn() => fopen("f.txt", "x") !== false);
check("O_EXCL on a new file", fn() => fclose(fopen("new", "x")));
check("O_EXCL on a dangling symlink", fn() => fopen("dangling", "x") !== false);
check("rename over an existing file", fn() => [file_put_contents("a", "A"), file_put_contents("b", "B"), rename("a", "b"), file_get_contents("b"), file_exists("a")]);
check("rename a file over a directory", fn() => rename("b", "d"));
check("rename a directory over a non-empty one", fn() => mkdir("e") && rename("e", "d"));
check("unlink an open file, then read it", function () { $f = fopen("b", "r"); $u = unlink("b"); return [$u, fread($f, 10), file_exists("b")]; });
check("mkdir an existing directory", fn() => mkdir("d"));
check("mkdir over a file", fn() => mkdir("f.txt"));
check("rmdir a non-empty directory", fn() => rmdir("d"));
check("rmdir a file", fn() => rmdir("f.txt"));
check("unlink a directory", fn() => unlink("d"));
check("open a directory for writing", fn() => fopen("d", "w") !== false);
check("truncate through O_TRUNC", fn() => [file_put_contents("t", "long text"), file_put_contents("t", "x"), file_get_contents("t")][2]);
check("append mode writes at the end", fn() => [file_put_contents("ap", "1"), file_put_contents("ap", "2", FILE_APPEND), file_get_contents("ap")][2]);
check("seek past the end, then write", function () { $f = fopen("sk", "w"); fseek($f, 4); fwrite($f, "z"); fclose($f); return bin2hex(file_get_contents("sk")); });
check("scandir sorted", fn() => scandir("d"));
check("rmdir with a trailing slash", fn() => [mkdir("ts"), rmdir("ts/"), file_exists("ts")]);
check("rmdir a file with a trailing slash", fn() => rmdir("f.txt/"));
check("chdir into d/.., then getcwd", fn() => [chdir("d/.."), getcwd() === $here]);
check("chdir d, then .., then getcwd", fn() => [chdir("d"), chdir(".."), getcwd() === $here]);
