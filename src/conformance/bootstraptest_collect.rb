# kiln: list the assertions of one bootstraptest file without running
# them, one JSON object per line on stdout. kiln then runs each snippet in
# a fresh instance, the way bootstraptest/runner.rb runs each in a fresh
# ruby process. The assert_* signatures follow runner.rb's.
require "json"

$kiln_seen = Hash.new(0)

def kiln_add(kind, src, extra = {})
  # The outermost frame in the test file: helpers such as test_syntax.rb's
  # assert_syntax_error then name the line that calls them.
  loc = caller_locations.select { |l| l.path == $kiln_file }.last || caller_locations(2, 1).first
  n = ($kiln_seen[loc.lineno] += 1)
  rec = { "kind" => kind, "line" => loc.lineno, "n" => n, "src" => src.to_s }
  $stdout.puts JSON.generate(rec.merge(extra))
end

def kiln_regexp(re)
  { "pattern" => re.source, "icase" => re.casefold?, "multiline" => (re.options & Regexp::MULTILINE) != 0,
    "extended" => (re.options & Regexp::EXTENDED) != 0 }
end

def assert_equal(expected, testsrc, message = '', opt = '', **argh)
  kiln_add("equal", testsrc, "expected" => expected.to_s, "opt" => opt.to_s,
           "frozen" => argh[:frozen_string_literal])
end

def assert_match(pattern, testsrc, message = '')
  kiln_add("match", testsrc, "regexp" => kiln_regexp(pattern))
end

def assert_not_match(pattern, testsrc, message = '')
  kiln_add("not_match", testsrc, "regexp" => kiln_regexp(pattern))
end

def assert_valid_syntax(testsrc, message = '')
  kiln_add("valid_syntax", testsrc)
end

def assert_normal_exit(testsrc, *rest, timeout: nil, **opt)
  _message, ignore_signals = rest
  kiln_add("normal_exit", testsrc, "timeout" => timeout, "ignore_signals" => Array(ignore_signals).map(&:to_s))
end

def assert_finish(timeout_seconds, testsrc, message = '')
  kiln_add("finish", testsrc, "timeout" => timeout_seconds)
end

def flunk(message = '')
  kiln_add("flunk", "", "message" => message.to_s)
end

def show_limit(testsrc, opt = '', **argh)
  kiln_add("show_limit", testsrc)
end

# Helpers some test files call at load time.
# (runner.rb's answer the way kiln runs them: no JIT on wasm, no JIT option.)
def rjit_enabled? = false
def yjit_enabled? = false
def target_platform = RUBY_PLATFORM

module BT
  def self.ruby = "ruby"
  def self.quiet = true
  def self.tty = false
  def self.wn = 1
end

$kiln_file = ARGV.fetch(0)
load $kiln_file
