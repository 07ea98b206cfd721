//! Slow tier: build CRuby 3.3 (native baseruby, cross build, Asyncify) with
//! kiln and check it as a user would.

mod support;

use std::sync::OnceLock;

use support::{repo, xtask};

fn built() -> &'static str {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT.get_or_init(|| support::build("ruby", "out/ruby-3.3.8/bin/ruby.wasm"))
}

fn rb(args: &[&str]) -> (i32, String, String) {
    built();
    support::run_in("ruby", repo(), args)
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
"#;
    let (code, out, err) = rb(&["-e", script]);
    assert_eq!(
        (code, out.as_str()),
        (0, "2\n3\n2024-03-01\nba7816bf8f01cfea\n40\nripper\nt\n5.20.0\n"),
        "{err}"
    );
}
