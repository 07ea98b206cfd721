//! The default flavour's library-backed extensions, used as applications
//! use them, with the host's own tools reading what the guest wrote.

use super::{php, php_in};
use crate::support::{dir_with, host_python, host_tool as host};

/// Runs `text` as `t.php` in a fresh directory (by its relative path) and
/// returns the directory with stdout; fails on a non-zero exit.
fn script(text: &str) -> (tempfile::TempDir, String) {
    let d = dir_with(&[("t.php", text)]);
    let (code, out, err) = php_in(d.path(), &["t.php"]);
    assert_eq!(code, 0, "{out}\n{err}");
    (d, out)
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn php_m_lists_every_default_extension() {
    let (code, out, _) = php(&["-m"]);
    assert_eq!(code, 0);
    let mods: Vec<&str> = out.lines().collect();
    for m in [
        "libxml",
        "dom",
        "xml",
        "SimpleXML",
        "xmlreader",
        "xmlwriter",
        "sqlite3",
        "pdo_sqlite",
        "PDO",
        "zlib",
        "mbstring",
        "iconv",
        "zip",
        "gd",
        "openssl",
        "sodium",
    ] {
        assert!(mods.contains(&m), "{m} missing from php -m:\n{out}");
    }
    let (_, out, _) = php(&[
        "-r",
        "echo mb_regex_encoding(), ' ', function_exists('mb_ereg') ? 'mbregex' : 'none';",
    ]);
    assert_eq!(out, "UTF-8 mbregex");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn xml_extensions_read_and_write_documents() {
    let (d, out) = script(
        r#"<?php
$doc = new DOMDocument();
$doc->loadXML('<lib><book id="1"><t>Dune</t></book><book id="2"><t>Emma</t></book></lib>');
$xp = new DOMXPath($doc);
echo $xp->query('//book[@id="2"]/t')->item(0)->textContent, ' ', $xp->evaluate('count(//book)'), "\n";
$sx = simplexml_load_string('<a><b lang="fr">x</b></a>');
echo (string)$sx->b['lang'], "\n";
$w = new XMLWriter();
$w->openUri('w.xml');
$w->startDocument('1.0', 'UTF-8');
$w->startElement('items');
foreach (['one', 'two'] as $i) { $w->startElement('item'); $w->writeAttribute('n', $i); $w->endElement(); }
$w->endElement();
$w->endDocument();
$w->flush();
$r = XMLReader::open('w.xml');
$seen = [];
while ($r->read()) { if ($r->nodeType === XMLReader::ELEMENT && $r->name === 'item') { $seen[] = $r->getAttribute('n'); } }
echo implode(',', $seen), "\n";
$p = xml_parser_create();
xml_parse_into_struct($p, '<r><c/></r>', $vals);
echo count($vals), "\n";
"#,
    );
    assert_eq!(out, "Emma 2\nfr\none,two\n3\n");
    assert!(std::fs::read_to_string(d.path().join("w.xml"))
        .unwrap()
        .contains("<item n=\"two\"/>"));
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn pdo_sqlite_file_in_cwd_survives_runs_and_opens_on_the_host() {
    let d = dir_with(&[
        (
            "w.php",
        "<?php $db = new PDO('sqlite:app.db'); $db->exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)'); \
         $s = $db->prepare('INSERT INTO t (name) VALUES (?)'); foreach (['ada', 'bob'] as $n) { $s->execute([$n]); } echo 'ok';",
        ),
        (
            "r.php",
        "<?php $db = new PDO('sqlite:app.db'); foreach ($db->query('SELECT id, name FROM t ORDER BY id') as $r) { echo $r['id'], '=', $r['name'], ' '; } \
         $s = new SQLite3('app.db'); echo $s->querySingle('SELECT count(*) FROM t');",
        ),
    ]);
    let (code, out, err) = php_in(d.path(), &["w.php"]);
    assert_eq!((code, out.as_str()), (0, "ok"), "{err}");
    let (code, out, err) = php_in(d.path(), &["r.php"]);
    assert_eq!((code, out.as_str()), (0, "1=ada 2=bob 2"), "{err}");
    assert_eq!(
        host("sqlite3", &["app.db", "SELECT group_concat(name) FROM t"], d.path()).trim(),
        "ada,bob"
    );
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn zlib_mbregex_and_iconv() {
    let (d, out) = script(
        r#"<?php
$s = str_repeat('kiln ', 100);
$z = gzencode($s, 9);
echo strlen($z) < 100 ? 'small' : 'big', ' ', gzdecode($z) === $s ? 'same' : 'differs', "\n";
$g = gzopen('t.gz', 'wb'); gzwrite($g, "line one\nline two\n"); gzclose($g);
$g = gzopen('t.gz', 'rb'); echo trim(gzgets($g)), '|', trim(gzgets($g)), "\n"; gzclose($g);
echo gzuncompress(gzcompress('abc')), ' ', gzinflate(gzdeflate('def')), "\n";
echo mb_ereg_replace('[0-9]+', '#', 'a1b22c333'), ' ', mb_ereg_replace('(\w+)@(\w+)', '\2 at \1', 'me@host'), "\n";
echo iconv('UTF-8', 'ISO-8859-1//TRANSLIT', 'café') === "caf\xe9" ? 'latin1' : 'wrong', ' ', iconv('ISO-8859-1', 'UTF-8', "na\xefve"), ' ', iconv_strlen('日本語', 'UTF-8'), "\n";
"#,
    );
    assert_eq!(out, "small same\nline one|line two\nabc def\na#b#c# host at me\nlatin1 naïve 3\n");
    // The host's gzip reads what the guest wrote.
    assert_eq!(host("gzip", &["-dc", "t.gz"], d.path()), "line one\nline two\n");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn zip_archive_lists_with_the_hosts_unzip() {
    let (d, out) = script(
        r#"<?php
$z = new ZipArchive();
var_dump($z->open('a.zip', ZipArchive::CREATE | ZipArchive::OVERWRITE));
$z->addFromString('hello.txt', 'hello from wasm');
$z->addFromString('dir/data.json', json_encode(['n' => 1]));
$z->close();
$z = new ZipArchive(); $z->open('a.zip');
echo $z->numFiles, ' ', $z->getFromName('hello.txt'), "\n";
"#,
    );
    assert_eq!(out, "bool(true)\n2 hello from wasm\n");
    let listing = host("unzip", &["-l", "a.zip"], d.path());
    assert!(listing.contains("hello.txt") && listing.contains("dir/data.json"), "{listing}");
    assert_eq!(host("unzip", &["-p", "a.zip", "hello.txt"], d.path()), "hello from wasm");
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn gd_writes_png_jpeg_and_webp_the_host_recognises() {
    let (d, out) = script(
        r#"<?php
$im = imagecreatetruecolor(64, 48);
$red = imagecolorallocate($im, 255, 0, 0);
imagefilledrectangle($im, 8, 8, 40, 30, $red);
imageline($im, 0, 0, 63, 47, imagecolorallocate($im, 0, 255, 0));
var_dump(imagepng($im, 'a.png'), imagejpeg($im, 'a.jpg', 90), imagewebp($im, 'a.webp'));
$back = imagecreatefrompng('a.png');
echo imagesx($back), 'x', imagesy($back), ' ', dechex(imagecolorat($back, 10, 10)), "\n";
$info = gd_info();
echo $info['PNG Support'] && $info['JPEG Support'] && $info['WebP Support'] && $info['FreeType Support'] ? 'all' : json_encode($info), "\n";
"#,
    );
    assert_eq!(out, "bool(true)\nbool(true)\nbool(true)\n64x48 ff0000\nall\n");
    let png = host("file", &["a.png"], d.path());
    assert!(png.contains("PNG image data, 64 x 48"), "{png}");
    let jpg = host("file", &["a.jpg"], d.path());
    assert!(jpg.contains("JPEG image data") && jpg.contains("64x48"), "{jpg}");
    let webp = host("file", &["a.webp"], d.path());
    assert!(webp.contains("Web/P image"), "{webp}");
}

/// A self-signed P-256 certificate (CN=kiln.test, O=kiln, serial 4242),
/// made with the host's openssl for this test.
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBijCCATGgAwIBAgICEJIwCgYIKoZIzj0EAwIwIzESMBAGA1UEAwwJa2lsbi50
ZXN0MQ0wCwYDVQQKDARraWxuMCAXDTI2MTEyNzE2MDcyMVoYDzIxMjYxMTAzMTYw
NzIxWjAjMRIwEAYDVQQDDAlraWxuLnRlc3QxDTALBgNVBAoMBGtpbG4wWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQRsK4RvS3u/kxU5B0CrbnH+drMX8VVTktaTlDx
gixQQnzLXtbHp5lIUJLIDPtIlphhpCw9gBRc5MdWdYu7sBYqo1MwUTAdBgNVHQ4E
FgQUjSwvKIVyFs6r3pjbov/MOyczxZgwHwYDVR0jBBgwFoAUjSwvKIVyFs6r3pjb
ov/MOyczxZgwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiATm20L
Kg0AEXV8vMIPy4FnEuslVnAGmIrDzJM2pM7nUwIgFGVfreOvzu341x7mNzbIQXiI
Jv7DzWA7sK51WnAPk/o=
-----END CERTIFICATE-----
";

#[test]
#[ignore = "slow tier: builds PHP"]
fn openssl_ciphers_signatures_x509_and_random() {
    let d = dir_with(&[
        ("c.pem", CERT),
        (
            "t.php",
            r#"<?php
$key = random_bytes(32); $iv = openssl_random_pseudo_bytes(12);
echo strlen($iv), "\n";
$ct = openssl_encrypt('secret message', 'aes-256-gcm', $key, OPENSSL_RAW_DATA, $iv, $tag);
echo openssl_decrypt($ct, 'aes-256-gcm', $key, OPENSSL_RAW_DATA, $iv, $tag), "\n";
var_dump(openssl_decrypt($ct, 'aes-256-gcm', $key, OPENSSL_RAW_DATA, $iv, str_repeat("\0", 16)));
$pk = openssl_pkey_new(['private_key_type' => OPENSSL_KEYTYPE_EC, 'curve_name' => 'prime256v1']);
openssl_sign('data', $sig, $pk, OPENSSL_ALGO_SHA256);
$pub = openssl_pkey_get_details($pk)['key'];
echo openssl_verify('data', $sig, $pub, OPENSSL_ALGO_SHA256), openssl_verify('datA', $sig, $pub, OPENSSL_ALGO_SHA256), "\n";
$x = openssl_x509_parse(file_get_contents('c.pem'));
echo $x['subject']['CN'], ' ', $x['subject']['O'], ' ', $x['serialNumber'], ' ', $x['issuer']['CN'], "\n";
echo openssl_digest('abc', 'sha3-256'), "\n";
echo in_array('aes-256-gcm', openssl_get_cipher_methods()) ? 'listed' : 'missing', "\n";
"#,
        ),
    ]);
    let (code, out, err) = php_in(d.path(), &["t.php"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out,
        "12\nsecret message\nbool(false)\n10\nkiln.test kiln 4242 kiln.test\n\
         3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532\nlisted\n"
    );
    // What WASI lacks fails as PHP fails when a transport is unavailable.
    let (code, out, _) = php(&["-r", "var_dump(@stream_socket_client('tls://127.0.0.1:443', $e, $s, 1));"]);
    assert_eq!((code, out.as_str()), (0, "bool(false)\n"));
}

#[test]
#[ignore = "slow tier: builds PHP"]
fn sodium_secretbox_round_trips() {
    let (_, out) = script(
        r#"<?php
$k = sodium_crypto_secretbox_keygen(); $n = random_bytes(SODIUM_CRYPTO_SECRETBOX_NONCEBYTES);
$box = sodium_crypto_secretbox('sealed', $n, $k);
echo sodium_crypto_secretbox_open($box, $n, $k), ' ';
var_dump(sodium_crypto_secretbox_open($box, $n, sodium_crypto_secretbox_keygen()));
echo bin2hex(sodium_crypto_generichash('abc', '', 16)), "\n";
"#,
    );
    assert_eq!(out, format!("sealed bool(false)\n{}\n", blake2b16("abc")));
}

/// BLAKE2b-128 of `s`, from the host's Python (the reference for sodium's
/// generichash).
fn blake2b16(s: &str) -> String {
    host_python(&format!(
        "import hashlib; print(hashlib.blake2b(b'{s}', digest_size=16).hexdigest())"
    ))
    .trim()
    .into()
}
