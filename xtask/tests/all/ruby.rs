//! Slow tier: build CRuby 3.3 (native baseruby, cross build, Asyncify) with
//! kiln and check it as a user would.

use std::sync::OnceLock;

use crate::support::{repo, xtask};

fn built() -> &'static str {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT.get_or_init(|| crate::support::build("ruby", "out/ruby-3.3.8/bin/ruby.wasm"))
}

fn rb(args: &[&str]) -> (i32, String, String) {
    built();
    crate::support::run_in("ruby", repo(), args)
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn second_build_does_no_work() {
    built();
    let out = xtask(&["build", "ruby"], repo());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("up to date"));
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn version_and_sum() {
    let (code, out, err) = rb(&["-e", "puts RUBY_VERSION; puts [1,2,3].sum"]);
    assert_eq!((code, out.as_str()), (0, "3.3.8\n6\n"), "{err}");
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn json_erb_fiber_rescue() {
    let script = r#"
require "json"
puts JSON.generate({"a" => [1, 2.5, nil, true], "b" => "x"})
puts JSON.parse('{"k": [1, {"n": null}]}').inspect
require "erb"
puts ERB.new("Hi <%= name %>!<% 2.times do |i| %> [<%= i %>]<% end %>").result_with_hash(name: "kiln")
ping = Fiber.new { |x| loop { x = Fiber.yield(x * 2) } }
puts [1, 2, 3].map { |v| ping.resume(v) }.inspect
begin
  raise ArgumentError, "boom"
rescue => e
  puts "rescued #{e.class}: #{e.message}"
end
def deep(n) = n.zero? ? raise("bottom") : deep(n - 1)
begin; deep(500); rescue => e; puts e.message; end
"#;
    let (code, out, err) = rb(&["-e", script]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "{\"a\":[1,2.5,null,true],\"b\":\"x\"}\n\
             {\"k\"=>[1, {\"n\"=>nil}]}\n\
             Hi kiln! [0] [1]\n\
             [2, 4, 6]\n\
             rescued ArgumentError: boom\n\
             bottom\n"
        ),
        "{err}"
    );
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn exit_status_is_the_scripts() {
    let (code, _, err) = rb(&["-e", "at_exit { $stderr.puts 'bye' }; exit 3"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("bye"));
    let (code, _, err) = rb(&["-e", "raise 'uncaught'"]);
    assert_eq!(code, 1);
    assert!(err.contains("uncaught (RuntimeError)"), "{err}");
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn static_extensions_and_bundled_gems() {
    let script = r#"
require "stringio"; require "strscan"; require "date"; require "digest"; require "zlib"; require "etc"; require "ripper"
puts StringIO.new("a\nb").readlines.size
puts StringScanner.new("3.14").scan(/\d+/)
puts Date.new(2024, 2, 29).next_day.to_s
puts Digest::SHA256.hexdigest("abc")[0, 16]
puts Zlib.inflate(Zlib.deflate("kiln" * 10)).size
puts Ripper.sexp("1+1") ? "ripper" : "no"
require "rexml/document"
puts REXML::Document.new("<a><b>t</b></a>").root.elements["b"].text
require "minitest"
puts Minitest::VERSION
require "io/console/size"
p IO.console_size
require "rdoc"
puts RDoc::VERSION
"#;
    let (code, out, err) = rb(&["-e", script]);
    assert_eq!(
        (code, out.as_str()),
        (0, "2\n3\n2024-03-01\nba7816bf8f01cfea\n40\nripper\nt\n5.20.0\n[25, 80]\n6.6.3.1\n"),
        "{err}"
    );
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn psych_and_openssl() {
    let script = r#"
require "yaml"
doc = { "name" => "kiln", "langs" => ["php", "python", "ruby"], "n" => 3 }
back = YAML.load(YAML.dump(doc))
puts back == doc, back["langs"].last
require "openssl"
puts OpenSSL::Digest::SHA256.hexdigest("x")
puts OpenSSL::HMAC.hexdigest("SHA256", "k", "m")
c = OpenSSL::Cipher.new("aes-256-gcm").encrypt
key = c.random_key; iv = c.random_iv; c.auth_data = ""
ct = c.update("secret") + c.final; tag = c.auth_tag
d = OpenSSL::Cipher.new("aes-256-gcm").decrypt
d.key = key; d.iv = iv; d.auth_tag = tag; d.auth_data = ""
puts d.update(ct) + d.final
k = OpenSSL::PKey::EC.generate("prime256v1")
sig = k.sign("SHA256", "data")
puts k.verify("SHA256", sig, "data"), k.verify("SHA256", sig, "datA")
puts defined?(OpenSSL::SSL::SSLSocket).inspect
"#;
    let (code, out, err) = rb(&["-e", script]);
    assert_eq!(code, 0, "{out}{err}");
    // Digests from the host's Python as the reference.
    let digests = crate::support::host_python(
        "import hashlib, hmac; print(hashlib.sha256(b'x').hexdigest()); print(hmac.new(b'k', b'm', 'sha256').hexdigest())",
    );
    assert_eq!(out, format!("true\nruby\n{digests}secret\ntrue\nfalse\nnil\n"));
}

#[test]
#[ignore = "slow tier: builds Ruby"]
fn script_by_relative_path() {
    built();
    let (code, out, err) = crate::support::run_relative_script(
        "ruby",
        "s.rb",
        "puts File.read('s.rb').size > 0, File.basename(__FILE__), Dir.pwd != '/'\n",
    );
    assert_eq!((code, out.as_str()), (0, "true\ns.rb\ntrue\n"), "{err}");
}

/// `test --native`: the same assertions on baseruby, the native build
/// of the same tarball (the python tier covers a second clone, where the
/// native side must be rebuilt).
#[test]
#[ignore = "slow tier: builds Ruby"]
fn native_tests_beside_wasm() {
    built();
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("test_kiln.rb"),
        "assert_equal '2', %q{1 + 1}\nassert_equal 'ok', %q{'ok'}\n",
    )
    .unwrap();
    let out = xtask(&["test", "ruby", "--native", d.path().to_str().unwrap()], repo());
    let t = crate::support::text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("native side:"), "{t}");
}

/// The suite runner on this interpreter (`cargo xtask test`).
mod conformance {
    use crate::support::{ci_xtask as xtask, text};

    #[test]
    #[ignore = "slow tier: builds Ruby and runs bootstraptest + basictest + test/psych + test/openssl"]
    fn ruby_default_subset_passes_against_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("r");
        let out = xtask(&["test", "ruby", "--report", r.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("ruby-ruby-bootstraptest.json")).unwrap()).unwrap();
        let tests = json["tests"].as_array().unwrap();
        assert!(tests.len() > 1000, "{} assertions", tests.len());
        let basic = tests.iter().find(|t| t["name"] == "basictest/test.rb").unwrap();
        assert_eq!(basic["outcome"], "pass", "{basic}");
        // test-all files of psych and openssl run under Ruby's own harness:
        // YAML and the crypto classes pass.
        for f in [
            "test/psych/test_psych.rb",
            "test/openssl/test_digest.rb",
            "test/openssl/test_pkey_rsa.rb",
            "test/openssl/test_x509cert.rb",
        ] {
            let t = tests.iter().find(|t| t["name"] == f).unwrap_or_else(|| panic!("{f} did not run"));
            assert_eq!(t["outcome"], "pass", "{t}");
            assert!(t["detail"].as_str().unwrap().contains(" 0 failures, 0 errors"), "{t}");
        }
    }

    #[test]
    #[ignore = "slow tier: builds Ruby"]
    fn a_failing_test_all_file_fails_the_run() {
        let d = tempfile::tempdir().unwrap();
        // A run that needs the source tree puts it in place first.
        let out = xtask(&["test", "ruby", "bootstraptest/test_flip.rb"]);
        assert!(out.status.success(), "{}", text(&out));
        let ruby_src = crate::support::repo().join("target/kiln/build/ruby-3.3.8/src");
        let dir = ruby_src.join("test/kiln_selftest");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("test_kiln.rb"),
            "require 'test/unit'\nclass TestKiln < Test::Unit::TestCase\n  def test_ok = assert_equal(2, 1 + 1)\n  def test_wrong = assert_equal(3, 1 + 1)\nend\n",
        )
        .unwrap();
        // A file that loops and one whose guest eats memory past the cap
        // are each one file's result; the run goes on and reports all.
        // Ten cases or more: the harness pads its counter (`[ 1/12]`).
        std::fs::write(
            dir.join("test_kiln_many.rb"),
            "require 'test/unit'\nclass TestKilnMany < Test::Unit::TestCase\n  12.times { |i| define_method(\"test_#{i}\") { assert_equal(i, i) } }\nend\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("test_kiln_loop.rb"),
            "require 'test/unit'\nclass TestKilnLoop < Test::Unit::TestCase\n  def test_loop = loop {}\nend\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("test_kiln_hog.rb"),
            "require 'test/unit'\nclass TestKilnHog < Test::Unit::TestCase\n  def test_hog\n    a = []\n    loop { a << ('x' * (1 << 20)) }\n  end\nend\n",
        )
        .unwrap();
        let out = xtask(&[
            "test",
            "ruby",
            "test/kiln_selftest",
            "--timeout",
            "20",
            "--memory-mib",
            "256",
            "--report",
            d.path().to_str().unwrap(),
        ]);
        let _ = std::fs::remove_dir_all(&dir);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(
            t.contains("test/kiln_selftest/test_kiln.rb") && t.contains("2 tests, 2 assertions, 1 failures, 0 errors"),
            "{t}"
        );
        assert!(t.contains("unexpected: TestKiln#test_wrong"), "{t}");
        assert!(t.contains("test_kiln_loop.rb") && t.contains("Timeout"), "{t}");
        assert!(t.contains("test_kiln_hog.rb"), "{t}");
        assert!(t.contains("3 unexpected failures"), "{t}");
        // Each case of the file is in the report, with its outcome.
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("ruby-ruby-bootstraptest.json")).unwrap()).unwrap();
        let test_named = |name: &str| {
            json["tests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == name)
                .unwrap_or_else(|| panic!("{name} is not in the report"))
        };
        let file = test_named("test/kiln_selftest/test_kiln.rb");
        let cases: Vec<(String, String)> = file["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c["outcome"].as_str().unwrap().to_string()))
            .collect();
        assert!(cases.contains(&("TestKiln#test_ok".into(), "pass".into())), "{cases:?}");
        assert!(cases.contains(&("TestKiln#test_wrong".into(), "fail".into())), "{cases:?}");
        let many = test_named("test/kiln_selftest/test_kiln_many.rb");
        let passed = many["cases"].as_array().unwrap().iter().filter(|c| c["outcome"] == "pass").count();
        assert_eq!(passed, 12, "{many}");
    }

    #[test]
    #[ignore = "slow tier: builds Ruby"]
    fn a_wrong_ruby_assertion_fails_the_run() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("test_kiln.rb"),
            "assert_equal '2', %q{1 + 1}\nassert_equal '3', %q{1 + 1}\nassert_match(/\\Ah.llo\\z/, %q{'hello'})\nassert_normal_exit %q{exit 3}\nassert_equal 'false', %q{'t'.frozen?}, '', '--enable-frozen-string-literal', frozen_string_literal: false\n",
        )
        .unwrap();
        // A file whose assertions cannot be listed is one broken test, and
        // the others still run.
        std::fs::write(d.path().join("test_kiln_unlisted.rb"), "raise 'kiln: not listable'\n").unwrap();
        let out = xtask(&["test", "ruby", d.path().to_str().unwrap()]);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(
            t.contains("test_kiln.rb:2") && !t.contains("test_kiln.rb:1 ") && !t.contains("test_kiln.rb:5 "),
            "{t}"
        );
        assert!(
            t.contains("test_kiln_unlisted.rb") && t.contains("Broken") && t.contains("not listable"),
            "{t}"
        );
        assert!(t.contains("2 unexpected failures"), "{t}");
    }
}

/// kiln's POSIX file-semantics probe against baseruby, the native build of
/// the same tarball.
#[test]
#[ignore = "slow tier: builds Ruby"]
fn posix_file_semantics_match_native() {
    built();
    let mut known: Vec<&crate::support::KnownDifference> = crate::support::SHARED_DIFFERENCES.iter().collect();
    known.push(&crate::support::READ_A_DIRECTORY_DIFFERENCE);
    crate::support::posix_probe("ruby", "rb", &known);
}
