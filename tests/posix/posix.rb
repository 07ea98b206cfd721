# kiln's POSIX file-semantics probe (Ruby). Run in an empty working
# directory, natively and on wasm; each line is "case => outcome", and the
# two outputs are compared line by line (xtask/tests/all: posix_*).

def outcome
  r = yield
  r.nil? ? "ok" : r.inspect
rescue SystemCallError => e
  e.class.name.split("::").last
rescue StandardError => e
  "#{e.class}: #{e.message}"
end

def check(name, &blk)
  puts "#{name} => #{outcome(&blk)}"
end

here = Dir.pwd
base = File.basename(here)
File.write("f.txt", "data")
Dir.mkdir("d")
File.write("d/inner", "x")

check("empty path: stat") { File.stat(""); nil }
check("empty path: exist?") { File.exist?("") }
check("empty path: directory?") { File.directory?("") }
check("empty path: read") { File.read("") }
check("empty path: Dir.entries") { Dir.entries("") }
check("empty path: mkdir") { Dir.mkdir("") }
check("empty path: unlink") { File.unlink("") }
check("trailing slash on a file: stat") { File.stat("f.txt/"); nil }
check("trailing slash on a file: read") { File.read("f.txt/") }
check("trailing slash on a dir: directory?") { File.directory?("d/") }
check("file as a directory: stat") { File.stat("f.txt/x"); nil }
check("missing: stat") { File.stat("missing"); nil }
check("dot-dot back into the root: relative") { File.read("../#{base}/f.txt") }
check("dot-dot back into the root: absolute") { File.read("#{here}/../#{base}/f.txt") }
check("dot-dot inside: d/../f.txt") { File.read("d/../f.txt") }
check("dot-dot above the root: parent lists it") { Dir.children("#{here}/..").include?(base) }
check("symlink: relative, read through") { File.symlink("f.txt", "rel"); File.read("rel") }
check("symlink: readlink") { File.readlink("rel") }
check("symlink: loop, stat") { File.symlink("loop", "loop"); File.stat("loop"); nil }
check("symlink: loop, symlink?") { File.symlink?("loop") }
check("symlink: absolute target inside, read through") { File.symlink("#{here}/f.txt", "abs"); File.read("abs") }
check("symlink: dangling, exist?") { File.symlink("nowhere", "dangling"); File.exist?("dangling") }
check("symlink: dangling, symlink?") { File.symlink?("dangling") }
check("O_EXCL on an existing file") { File.open("f.txt", File::CREAT | File::EXCL | File::WRONLY); nil }
check("O_EXCL on a new file") { File.open("new", File::CREAT | File::EXCL | File::WRONLY).close }
check("O_EXCL on a dangling symlink") { File.open("dangling", File::CREAT | File::EXCL | File::WRONLY).close }
check("rename over an existing file") { File.write("a", "A"); File.write("b", "B"); File.rename("a", "b"); [File.read("b"), File.exist?("a")] }
check("rename a file over a directory") { File.rename("b", "d") }
check("rename a directory over a non-empty one") { Dir.mkdir("e"); File.rename("e", "d") }
check("unlink an open file, then read it") { f = File.open("b"); File.unlink("b"); r = [f.read, File.exist?("b")]; f.close; r }
check("mkdir an existing directory") { Dir.mkdir("d") }
check("mkdir over a file") { Dir.mkdir("f.txt") }
check("rmdir a non-empty directory") { Dir.rmdir("d") }
check("rmdir a file") { Dir.rmdir("f.txt") }
check("unlink a directory") { File.unlink("d") }
check("open a directory for writing") { File.open("d", "w"); nil }
check("open a directory for reading, then read") { File.open("d") { |f| f.read } }
check("truncate through O_TRUNC") { File.write("t", "long text"); File.write("t", "x"); File.read("t") }
check("append mode writes at the end") { File.write("ap", "1"); File.open("ap", "a") { |f| f.write("2") }; File.read("ap") }
check("seek past the end, then write") { File.open("sk", "w") { |f| f.seek(4); f.write("z") }; File.binread("sk") }
check("Dir.children sorted") { Dir.children("d").sort }
check("rmdir with a trailing slash") { Dir.mkdir("ts"); Dir.rmdir("ts/"); File.exist?("ts") }
check("rmdir a file with a trailing slash") { Dir.rmdir("f.txt/") }
check("chdir into d/.., then getcwd") { Dir.chdir("d/.."); Dir.pwd == here }
check("chdir d, then .., then getcwd") { Dir.chdir("d"); Dir.chdir(".."); Dir.pwd == here }
