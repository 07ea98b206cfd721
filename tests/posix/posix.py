# kiln's POSIX file-semantics probe (Python). Run in an empty working
# directory, natively and on wasm; each line is "case => outcome", and the
# two outputs are compared line by line (xtask/tests/all: posix_*).
import errno
import os


def outcome(f):
    try:
        r = f()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "ok" if r is None else repr(r)


def case(name, f):
    print(f"{name} => {outcome(f)}")


def write(path, data):
    with open(path, "w") as f:
        f.write(data)


def read(path):
    with open(path) as f:
        return f.read()


here = os.getcwd()
base = os.path.basename(here)
write("f.txt", "data")
os.mkdir("d")
write("d/inner", "x")

case("empty path: stat", lambda: os.stat("") and None)
case("empty path: exists", lambda: os.path.exists(""))
case("empty path: isdir", lambda: os.path.isdir(""))
case("empty path: open", lambda: read(""))
case("empty path: listdir", lambda: os.listdir(""))
case("empty path: mkdir", lambda: os.mkdir(""))
case("empty path: unlink", lambda: os.unlink(""))
case("trailing slash on a file: stat", lambda: os.stat("f.txt/") and None)
case("trailing slash on a file: open", lambda: read("f.txt/"))
case("trailing slash on a dir: stat", lambda: os.path.isdir("d/"))
case("file as a directory: stat", lambda: os.stat("f.txt/x") and None)
case("missing: stat", lambda: os.stat("missing") and None)
case("dot-dot back into the root: relative", lambda: read(f"../{base}/f.txt"))
case("dot-dot back into the root: absolute", lambda: read(f"{here}/../{base}/f.txt"))
case("dot-dot inside: d/../f.txt", lambda: read("d/../f.txt"))
case("dot-dot above the root: parent lists it", lambda: base in os.listdir(f"{here}/.."))
case("symlink: relative, read through", lambda: (os.symlink("f.txt", "rel"), read("rel"))[1])
case("symlink: readlink", lambda: os.readlink("rel"))
case("symlink: loop, stat", lambda: (os.symlink("loop", "loop"), os.stat("loop"))[1] and None)
case("symlink: loop, lstat is a link", lambda: __import__("stat").S_ISLNK(os.lstat("loop").st_mode))
case("symlink: absolute target inside, read through", lambda: (os.symlink(f"{here}/f.txt", "abs"), read("abs"))[1])
case("symlink: dangling, exists", lambda: (os.symlink("nowhere", "dangling"), os.path.exists("dangling"))[1])
case("symlink: dangling, lexists", lambda: os.path.lexists("dangling"))
case("O_EXCL on an existing file", lambda: os.open("f.txt", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
case("O_EXCL on a new file", lambda: os.close(os.open("new", os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
case("O_EXCL on a dangling symlink", lambda: os.open("dangling", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
case("rename over an existing file", lambda: (write("a", "A"), write("b", "B"), os.rename("a", "b"), read("b"), os.path.exists("a"))[3:])
case("rename a file over a directory", lambda: os.rename("b", "d"))
case("rename a directory over a non-empty one", lambda: (os.mkdir("e"), os.rename("e", "d"))[1])
case("unlink an open file, then read it", lambda: (lambda f: (os.unlink("b"), f.read(), os.path.exists("b"), f.close())[1:3])(open("b")))
case("mkdir an existing directory", lambda: os.mkdir("d"))
case("mkdir over a file", lambda: os.mkdir("f.txt"))
case("rmdir a non-empty directory", lambda: os.rmdir("d"))
case("rmdir a file", lambda: os.rmdir("f.txt"))
case("unlink a directory", lambda: os.unlink("d"))
case("open a directory for writing", lambda: open("d", "w"))
case("open a directory for reading, then read", lambda: (lambda fd: (os.read(fd, 1), os.close(fd)))(os.open("d", os.O_RDONLY)))
case("truncate through O_TRUNC", lambda: (write("t", "long text"), write("t", "x"), read("t"))[2])
case("append mode writes at the end", lambda: (write("ap", "1"), open("ap", "a").write("2"), read("ap"))[2])
case("seek past the end, then write", lambda: (lambda fd: (os.lseek(fd, 4, 0), os.write(fd, b"z"), os.close(fd), open("sk", "rb").read())[3])(os.open("sk", os.O_CREAT | os.O_WRONLY)))
case("listdir sorted", lambda: sorted(os.listdir("d")))
case("rmdir with a trailing slash", lambda: (os.mkdir("ts"), os.rmdir("ts/"), os.path.exists("ts"))[2])
case("rmdir a file with a trailing slash", lambda: os.rmdir("f.txt/"))
case("chdir into d/.., then getcwd", lambda: (os.chdir("d/.."), os.getcwd() == here)[1])
case("chdir d, then .., then getcwd", lambda: (os.chdir("d"), os.chdir(".."), os.getcwd() == here)[2])
