"""kamailio.cfg preprocessor: directives, includes, defines, subst, comments, source map.

The last part runs the real Kamailio 5.6 (Debian package ``kamailio``) on small configs
and checks that it accepts/rejects them as we do and ends up with the same values.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from ksrpy.script.cfg.preprocess import (
    CORE_DEFINES,
    MAX_INCLUDE_DEPTH,
    Preprocessed,
    decode_string,
    encode_string,
    parse_subst,
    preprocess,
    preprocess_text,
)

S = "<string>"


def pp(text: str, defines: dict[str, str] | None = None, *,
       environ: Mapping[str, str] | None = None, path: str = S) -> Preprocessed:
    """Preprocess text with an empty environment unless one is given."""
    return preprocess_text(text, path, defines, environ={} if environ is None else environ)


def out(result: Preprocessed) -> list[str]:
    """The output lines."""
    assert result.text.endswith("\n") or result.text == ""
    return result.text.split("\n")[:-1]


def messages(result: Preprocessed) -> list[tuple[int, int, str]]:
    """(line, col, message) of every issue."""
    return [(i.line, i.col, i.message) for i in result.issues]


def smap(n: int, path: str = S) -> list[tuple[str, int]]:
    """The identity line map of an n-line text."""
    return [(path, i) for i in range(1, n + 1)]


# --------------------------------------------------------------------------- comments


def test_line_comments_are_blanked_keeping_columns() -> None:
    """'#' and '//' comments become spaces; code keeps its columns."""
    r = pp("a = 1; # one\nb = 2; // two\n# whole line\n")
    assert out(r) == ["a = 1;      ", "b = 2;       ", "            "]
    assert r.line_map == smap(3)
    assert r.issues == [] and r.col_maps == {}


def test_block_comments_span_lines_and_nest() -> None:
    """/* */ spans lines and nests like Kamailio's lexer (comment_nest)."""
    r = pp("x /* a\nb /* c */ still\ncomment */ y\n")
    assert out(r) == ["x     ", "               ", "           y"]
    assert r.line_map == smap(3)


def test_comment_marks_inside_strings_and_pvs_are_text() -> None:
    """'#', '//' and '/*' inside strings and PV names are not comments."""
    r = pp('a = "x # y // z /* w */"; b = \'#\';\n$(hdr(X){s.select,0,#}) = 1;\n'
           "$sht(ipban=>$si) = 1; // c\n")
    assert out(r) == ['a = "x # y // z /* w */"; b = \'#\';', "$(hdr(X){s.select,0,#}) = 1;",
                      "$sht(ipban=>$si) = 1;     "]


def test_backslash_at_end_of_code_line_is_blank() -> None:
    """Kamailio eats a backslash-newline in code: it becomes a space."""
    assert out(pp("if (a &&\\\n b)\n")) == ["if (a && ", " b)"]


def test_multi_line_strings_stay_raw() -> None:
    """Strings may span lines; the newline and any escapes are left for the grammar."""
    r = pp('x = "a\\\nb # no comment\nc"; # c\n')
    assert out(r) == ['x = "a\\', "b # no comment", 'c";    ']
    assert r.issues == []


def test_unterminated_comment_and_string_are_errors() -> None:
    """An open /* or string at the end of a file is reported where it starts."""
    assert messages(pp("a\n  /* open\n")) == [(2, 3, "unterminated /* comment (missing */)")]
    assert messages(pp('x = "open\n\n')) == [(1, 5, 'unterminated string (missing ")')]
    assert messages(pp("x = 'open\n")) == [(1, 5, "unterminated string (missing ')")]


# --------------------------------------------------------------------------- markers, prefixes


def test_compat_markers_are_accepted_and_do_not_define_names() -> None:
    """#!KAMAILIO etc. are blank lines; KAMAILIO is not defined (checked with kamailio)."""
    r = pp("#!KAMAILIO\n#!OPENSER\n#!SER\n#!MAXCOMPAT\n#!ALL\n//!KAMAILIO\n"
           "#!ifdef KAMAILIO\nk\n#!endif\n#!ifdef KAMAILIO_5_6\nk56\n#!endif\n")
    assert out(r) == ["", "", "", "", "", "", "", "", "", "", "k56", ""]
    assert r.issues == []
    assert "KAMAILIO" not in r.defines
    assert CORE_DEFINES == {"KAMAILIO_5": "", "KAMAILIO_5_6": "", "KAMAILIO_5_6_3": ""}
    assert r.defines == CORE_DEFINES


def test_both_directive_prefixes_anywhere_in_code() -> None:
    """'#!' and '!!' work at line start, indented and after code (as Kamailio's lexer)."""
    r = pp("#!define A 1\n!!define B 2\n   #!define C 3\nx = A; #!define D 4\n"
           "y = B + C + D;\n")
    assert out(r) == ["", "", "", "x = 1; ", "y = 2 + 3 + 4;"]
    assert r.issues == []


def test_double_bang_without_directive_is_code() -> None:
    """'!!' followed by anything but a directive name is double negation."""
    assert out(pp("if (!!$var(x)) { }\n")) == ["if (!!$var(x)) { }"]


def test_unknown_directive_is_an_error_and_shebang_is_a_comment() -> None:
    """#!word with an unknown word is reported; '#!' not followed by a word is a comment."""
    r = pp("#!/usr/sbin/kamailio -f\n#!frobnicate x\n#!!! note\nx #!KAMAILIO y\n")
    assert out(r) == ["                       ", "", "         ", "x "]
    assert messages(r) == [(2, 1, "unknown preprocessor directive '#!frobnicate'"),
                           (4, 3, "unexpected text after '#!KAMAILIO'")]


def test_directives_missing_from_kamailio_5_6_are_errors() -> None:
    """#!undef, #!ifexp... are not 5.6 directives (Kamailio takes them for comments)."""
    r = pp("#!define H 1\n#!undef H\nH\n")
    assert out(r) == ["", "", "1"]
    assert messages(r) == [(2, 1, "'#!undef' is not a Kamailio 5.6 directive "
                                  "(Kamailio 5.6 reads the line as a comment)")]


# --------------------------------------------------------------------------- defines


def test_define_forms_and_values() -> None:
    """Valueless, valued (trimmed), quoted, aliases #!def/#!trydefine/#!redef."""
    r = pp('#!define FLAG\n#!define N   5  \n#!def Q "a b"\n#!trydefine T 7\n'
           "#!redef N 6\nx = N; y = Q; z = T; w = FLAG;\n")
    assert out(r)[-1] == 'x = 6; y = "a b"; z = 7; w = ;'
    assert {k: r.defines[k] for k in ("FLAG", "N", "Q", "T")} == {
        "FLAG": "", "N": "6", "Q": '"a b"', "T": "7"}
    assert r.issues == []


def test_define_value_continues_after_backslash() -> None:
    """A trailing backslash joins the next line to the value; that line maps but is empty."""
    r = pp('#!define H "x\\\ny.example"\n#!define L 1 + \\\n  2 + \\\n  3\nh = H; l = L;\n')
    assert out(r) == ["", "", "", "", "", 'h = "xy.example"; l = 1 +   2 +   3;']
    assert r.line_map == smap(6)
    assert r.defines["H"] == '"xy.example"'


def test_define_value_keeps_a_trailing_comment_which_hides_the_rest_of_the_use_line() -> None:
    """Kamailio keeps '# c' in the value: expanded, it comments out the rest of that line."""
    r = pp('#!define P 5071 # c\nalias="a.example":P alias="b.example"\n')
    assert r.defines["P"] == "5071 # c"
    assert out(r)[1] == 'alias="a.example":5071                      '


def test_define_errors() -> None:
    """Missing name, '-' in the name, defining twice: each reported, the first value kept."""
    r = pp("#!define\n#!define   \n#!define A-B 1\n#!define X 1\n#!define X 2\nX\n")
    assert messages(r) == [
        (1, 9, "'#!define' needs a name"),
        (2, 12, "'#!define' needs a name"),
        (3, 11, "'-' is not allowed in a define name"),
        (5, 10, "'X' is already defined (#!redefine replaces a define, #!trydef keeps the "
                "first one)"),
    ]
    assert out(r)[-1] == "1"


def test_command_line_defines_come_first() -> None:
    """-A defines: #!trydef keeps them, #!define of one is an error, #!redefine replaces."""
    r = pp("#!trydef A 1\n#!define B 2\n#!redefine C 3\na = A; b = B; c = C;\n",
           {"A": "10", "B": "20", "C": "30"})
    assert out(r)[-1] == "a = 10; b = 20; c = 3;"
    assert messages(r) == [(2, 10, "'B' is already defined (#!redefine replaces a define, "
                                   "#!trydef keeps the first one)")]
    assert list(r.defines)[:6] == [*CORE_DEFINES, "A", "B", "C"]


def test_command_line_define_of_a_core_name_is_an_error() -> None:
    """kamailio -A KAMAILIO_5 fails: the core defines exist before -A ones."""
    r = pp("x\n", {"KAMAILIO_5": "1"})
    assert [(i.file, i.message) for i in r.issues] == [("<command line>",
                                                        "-A KAMAILIO_5: already defined")]


def test_substitution_only_on_identifier_tokens_outside_strings_comments_pvs() -> None:
    """Defines replace whole identifiers in code only (not in strings, PVs, selects...)."""
    r = pp('x = 5X X5 X.X $X $var(X) $(X) %X @X.X "X" \'X\' # X\n'
           "event_route[X:Y] { route(X); } route[X] { }\n", {"X": "v"})
    assert out(r) == ['x = 5X X5 v.v $X $var(X) $(X) %X @X.X "X" \'X\'    ',
                      "event_route[X:Y] { route(v); } route[v] { }"]


def test_directive_arguments_are_not_substituted() -> None:
    """#!ifdef tests the name itself; a define's own text is not expanded when defined."""
    r = pp("#!define A B\n#!ifdef A\nyes\n#!endif\n#!ifdef B\nno\n#!endif\n")
    assert out(r) == ["", "", "yes", "", "", "", ""]


def test_recursive_defines_expand_lazily() -> None:
    """A value is rescanned at use time with the defines of that moment."""
    r = pp('#!define A "rec" B\n#!define B "ursive"\nx = A;\nC\n#!define C c1\nC\n'
           "#!redefine C c2\nC\n")
    assert out(r) == ["", "", 'x = "rec" "ursive";', "C", "", "c1", "", "c2"]


def test_define_loop_is_reported_not_hung() -> None:
    """Kamailio loops forever on A -> B -> A; we report it and leave the name."""
    r = pp("#!define L1 L2\n#!define L2 x L1\ny = L1;\n")
    assert out(r)[-1] == "y = x L1;"
    assert messages(r) == [(3, 5, "define expansion loop: L1 -> L2 -> L1")]


def test_expanded_value_can_hold_strings_and_comments() -> None:
    """The value is lexed like code: a string in it is a string, '/*' opens a comment."""
    r = pp('#!define V "a # b" /* open\nx = V; y\nz */ w\n')
    assert out(r) == ["", 'x = "a # b"' + " " * len(" /* open; y"), "     w"]


def test_loadmodule_defines_mod_name() -> None:
    """loadmodule "x.so" defines MOD_x (Kamailio 5.6 register_module); paths and .so go."""
    r = pp('loadmodule "pv.so"\nloadmodule "/usr/lib/x/tm.so"\nloadmodule \'sl\'\n'
           "#!ifdef MOD_tm\ntm\n#!endif\n")
    assert {"MOD_pv", "MOD_tm", "MOD_sl"} <= set(r.defines)
    assert out(r)[4] == "tm" and r.issues == []
    clash = pp('#!define MOD_xlog\nloadmodule "xlog.so"\n')
    assert messages(clash) == [(2, 13, "loadmodule cannot define MOD_xlog: already defined")]


# --------------------------------------------------------------------------- conditionals


def test_nested_ifdef_ifndef_else() -> None:
    """Nested conditionals; a skipped branch and its directives become empty lines."""
    text = ("#!ifdef A\na\n#!ifndef B\na-not-b\n#!else\na-b\n#!endif\n#!else\nnot-a\n"
            "#!ifdef B\nnot-a-b\n#!endif\n#!endif\nend\n")
    assert out(pp(text, {"A": ""})) == [
        "", "a", "", "a-not-b", "", "", "", "", "", "", "", "", "", "end"]
    assert out(pp(text, {"B": ""})) == [
        "", "", "", "", "", "", "", "", "not-a", "", "not-a-b", "", "", "end"]


def test_second_else_flips_again_like_kamailio() -> None:
    """Kamailio's #!else toggles the branch, so a second one toggles back."""
    r = pp("#!ifdef NOPE\na\n#!else\nb\n#!else\nc\n#!endif\n")
    assert out(r) == ["", "", "", "b", "", "", ""] and r.issues == []


def test_unbalanced_conditionals_are_reported_with_location() -> None:
    """#!else/#!endif without #!ifdef; a missing #!endif is reported at its #!ifdef."""
    r = pp("#!else\n#!endif\n  #!ifdef A\n#!ifndef B\n#!endif\n")
    assert messages(r) == [
        (1, 1, "'#!else' without a matching #!ifdef/#!ifndef"),
        (2, 1, "'#!endif' without a matching #!ifdef/#!ifndef"),
        (3, 3, "missing #!endif for '#!ifdef A' opened here"),
    ]
    assert [i.source for i in r.issues] == ["#!else", "#!endif", "  #!ifdef A"]


def test_malformed_conditionals() -> None:
    """No name, '-' in a name, text after the directive: errors (Kamailio misreads them)."""
    r = pp("#!ifdef\nx\n#!endif\n#!ifdef A-B\n#!endif\n#!ifdef A // c\n#!endif // A\n")
    assert messages(r) == [
        (1, 8, "'#!ifdef' needs a name"),
        (4, 10, "'-' is not allowed in a define name"),
        (6, 11, "unexpected text after '#!ifdef A'"),
        (7, 9, "unexpected text after '#!endif' (Kamailio 5.6 would take the whole line "
               "for a comment)"),
    ]


def test_skipped_branch_ignores_everything_but_conditionals() -> None:
    """Defines, includes, unknown directives, open comments: nothing counts when skipped."""
    r = pp('#!ifdef NOPE\n#!define X 1\ninclude_file "missing.cfg"\n#!frobnicate\n/* open\n'
           '"open\n#!endif\nX\n')
    assert out(r) == ["", "", "", "", "", "", "", "X"]
    assert r.issues == [] and "X" not in r.defines


def test_skipped_branch_sees_conditionals_anywhere_on_a_line() -> None:
    """Kamailio's skip state reads char by char: '# old #!endif' does close the branch."""
    r = pp("#!ifdef NOPE\n# old: #!endif\nshown\n")
    assert out(r) == ["", "", "shown"] and r.issues == []
    r = pp("#!ifdef NOPE\n/* #!ifdef X\n*/\n#!endif\nstill skipped\n#!endif\nshown\n")
    assert out(r) == ["", "", "", "", "", "", "shown"] and r.issues == []


def test_conditionals_inside_comments_of_taken_branches_do_not_count() -> None:
    """In code that is read, a directive inside a comment or string is text."""
    r = pp('/*\n#!define P 5074\n#!endif\n*/\nx = "#!endif"; # #!endif\n')
    assert "P" not in r.defines and r.issues == []
    assert out(r)[4] == 'x = "#!endif";          '


# --------------------------------------------------------------------------- subst


def test_subst_applies_inside_strings_after_the_directive() -> None:
    """#!subst rewrites string literals (both quotes) that come after it, not code."""
    r = pp('a = "HOST";\n#!subst "/HOST/example.com/"\nb = "sip:HOST"; c = \'HOST\'; HOST;\n')
    assert out(r) == ['a = "HOST";', "", 'b = "sip:example.com"; c = "example.com"; HOST;']
    assert r.col_maps[2][:6] == (1, 2, 3, 4, 5, 5)


def test_subst_flags_and_backreferences() -> None:
    """Flags g and i, \\N references; each rule runs on the previous result."""
    r = pp('#!subst "/([a-z]+)-([0-9]+)/\\2.\\1/g"\n#!subst "/HOST/h/i"\n'
           'x = "ab-12.host.x cd-34";\n')
    assert out(r)[-1] == 'x = "12.ab.h.x 34.cd";'


def test_subst_result_is_written_back_escaped() -> None:
    """A rewritten string is re-encoded as a double-quoted literal."""
    r = pp('#!subst "/Q/say \\"hi\\"/"\nx = \'Q\';\n')
    assert out(r)[-1] == 'x = "say \\"hi\\"";'
    assert decode_string(out(r)[-1][5:-2]) == 'say "hi"'


def test_subst_in_multi_line_string_keeps_line_count() -> None:
    """A rewritten multi-line string goes on its first line; the other lines are blanked."""
    r = pp('#!subst "/A/b/g"\nx = "A\nA"; y;\n')
    assert out(r) == ["", 'x = "b\\nb"', "  ; y;"]
    assert r.line_map == smap(3)


def test_subst_applies_to_pv_names() -> None:
    """Kamailio runs subst on $name(...) and $(...) tokens; on bare $name only in
    #!KAMAILIO mode (its PVARID lexer state)."""
    r = pp('#!subst "/xyz/ru/"\n$var(xyz) = $(xyz); $xyz = 1;\n#!KAMAILIO\n$xyz = 1;\n')
    assert out(r) == ["", "$var(ru) = $(ru); $xyz = 1;", "", "$ru = 1;"]


def test_subst_applies_to_include_names(tmp_path: Path) -> None:
    """The include file token goes through the subst rules too."""
    (tmp_path / "real.cfg").write_text("included\n")
    main = tmp_path / "main.cfg"
    main.write_text('#!subst "/NAME/real/"\ninclude_file "NAME.cfg"\n')
    r = preprocess(str(main), environ={})
    assert out(r) == ["", "", "included"] and r.issues == []


def test_substdef_and_substdefs_define_and_substitute() -> None:
    """substdef = subst + define (raw value); substdefs quotes the value."""
    r = pp('#!substdef "/SH/s.example/"\n#!substdefs "/SQ/q.example/"\n'
           'a = SH; b = "SH.x"; c = SQ; d = "SQ";\n')
    assert out(r)[-1] == 'a = s.example; b = "s.example.x"; c = "q.example"; d = "q.example";'
    assert (r.defines["SH"], r.defines["SQ"]) == ("s.example", '"q.example"')
    dup = pp('#!define H 1\n#!substdef "/H/x/"\n')
    assert messages(dup)[0][2].startswith("'H' is already defined")


def test_malformed_subst_expressions() -> None:
    """Each malformed #!subst is reported with its position and the rest still runs."""
    r = pp('#!subst /a/b/\n#!subst "/a/b"\n#!subst "/a/b/x"\n#!subst "/(a/b/"\n'
           '#!subst "\\\\a\\\\b\\\\"\n#!subst "/a/$ru/"\n#!subst "ab"\nok\n')
    got = [(line, col, msg.split(": ", 1)[-1]) for line, col, msg in messages(r)]
    assert got[0] == (1, 9, "'#!subst' needs a quoted expression like \"/regex/replacement/\"")
    assert got[1:3] == [(2, 9, "no separator '/' after the replacement"),
                        (3, 9, "unknown flag 'x'")]
    assert got[3][:2] == (4, 9) and got[3][2].startswith("bad regular expression '(a'")
    assert got[4:] == [(5, 9, "the separator cannot be a backslash"),
                       (6, 9, "pseudo-variables in a #!subst replacement are not supported "
                              "(use \\$)"),
                       (7, 9, "expression is too short")]
    assert out(r)[-1] == "ok"


def test_parse_subst_posix_classes() -> None:
    """POSIX bracket classes work in the regex part."""
    rule, error, regex, repl = parse_subst("/[[:digit:]]+/N/g")
    assert error == "" and rule is not None and (regex, repl) == ("[[:digit:]]+", "N")
    assert rule.apply("a1b22") == "aNbN"
    empty, _, _, _ = parse_subst("/x*/y/")
    assert empty is not None and empty.apply("abc") is None  # empty match: Kamailio refuses


def test_string_codec_round_trip() -> None:
    """decode_string follows Kamailio's STRING1 rules; encode_string inverts it."""
    assert decode_string(r"a\tb\x41\101\q\"\\") == 'a\tbAA\\q"\\'
    assert decode_string("a\\\nb") == "ab"
    assert decode_string(r"a\'", "'") == r"a\'"
    for value in ['a"b\\c\nd\re', "plain", ""]:
        assert decode_string(encode_string(value)[1:-1]) == value


# --------------------------------------------------------------------------- defenv


def test_defenv_family() -> None:
    """defenv NAME=VAR / VAR, defenvs quotes, try variants skip a missing variable."""
    env = {"HOST": "e.example", "PORT": "5080", "EMPTY": ""}
    r = pp("#!defenv H=HOST\n#!defenv PORT\n#!defenvs QH=HOST\n#!defenv EMPTY\n"
           "#!trydefenv MISSING\n#!trydefenvs QM=MISSING\nx = H:PORT QH EMPTY;\n", environ=env)
    assert out(r)[-1] == 'x = e.example:5080 "e.example" ;'
    assert "MISSING" not in r.defines and "QM" not in r.defines
    assert r.issues == []


def test_defenv_errors() -> None:
    """A missing variable, no argument, an existing name (even with trydefenv)."""
    r = pp("#!defenv NOPE\n#!defenv\n#!defenv X=\n#!define H 1\n#!trydefenv H\n",
           environ={"H": "x"})
    assert messages(r) == [
        (1, 10, "environment variable 'NOPE' is not set"),
        (2, 9, "'#!defenv' needs NAME=ENVVAR or ENVVAR"),
        (3, 10, "'#!defenv' needs NAME=ENVVAR or ENVVAR"),
        (5, 13, "'H' is already defined (#!redefine replaces a define, #!trydef keeps the "
                "first one)"),
    ]


def test_defenv_uses_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without environ=, the process environment is used."""
    monkeypatch.setenv("KSRPY_PP_TEST", "from-env")
    r = preprocess_text("#!defenv KSRPY_PP_TEST\nKSRPY_PP_TEST\n")
    assert out(r)[-1] == "from-env"


# --------------------------------------------------------------------------- includes


def write(path: Path, text: str) -> Path:
    """Write a file, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_include_inlines_files_relative_to_the_including_file(tmp_path: Path) -> None:
    """Included lines follow the include line and map to their own file and line."""
    main = write(tmp_path / "main.cfg", 'a\ninclude_file "sub/one.cfg" # c\nz\n')
    one = write(tmp_path / "sub/one.cfg", 'b1\n#!include_file "two.cfg"\nb3\n')
    two = write(tmp_path / "sub/two.cfg", "#!define T 2\nc T\n")
    r = preprocess(str(main), environ={})
    assert out(r) == ["a", "", "b1", "", "", "c 2", "b3", "z"]
    assert r.line_map == [(str(main), 1), (str(main), 2), (str(one), 1), (str(one), 2),
                          (str(two), 1), (str(two), 2), (str(one), 3), (str(main), 3)]
    assert r.files == [str(main), str(one), str(two)]
    assert r.issues == []


def test_include_falls_back_to_the_working_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A name not found next to the including file is tried from the cwd (as Kamailio)."""
    write(tmp_path / "cwd/shared.cfg", "shared\n")
    main = write(tmp_path / "cfg/main.cfg", 'import_file "shared.cfg"\n')
    monkeypatch.chdir(tmp_path / "cwd")
    r = preprocess(str(main), environ={})
    assert out(r) == ["", "shared"] and r.files == [str(main), "shared.cfg"]


def test_missing_include_is_an_error_missing_import_is_not(tmp_path: Path) -> None:
    """include_file of a missing file is reported at the include; import_file is skipped."""
    main = write(tmp_path / "main.cfg", 'import_file "nope.cfg"\n  include_file "gone.cfg"\nx\n')
    r = preprocess(str(main), environ={})
    assert out(r) == ["", "", "x"]
    assert [(i.line, i.col, i.message) for i in r.issues] == [
        (2, 3, f"cannot open included file 'gone.cfg' (tried {tmp_path / 'gone.cfg'}, "
               "gone.cfg)")]
    assert str(r.issues[0]).startswith(f"{main}:2:3: cannot open included file")
    assert r.files == [str(main)]


def test_include_name_must_be_double_quoted(tmp_path: Path) -> None:
    """Kamailio wants include_file "name" (no single quotes, no bare words)."""
    r = pp("include_file 'a.cfg'\ninclude_file a.cfg\ninclude_file\n", path=str(tmp_path / "m"))
    assert [m for _, _, m in messages(r)] == ["include_file needs a file name between double "
                                              "quotes"] * 3


def test_include_cycle_is_reported(tmp_path: Path) -> None:
    """a includes b includes a: reported at the include that closes the cycle."""
    a = write(tmp_path / "a.cfg", 'include_file "b.cfg"\n')
    write(tmp_path / "b.cfg", 'x\ninclude_file "a.cfg"\n')
    r = preprocess(str(a), environ={})
    assert [(i.file, i.line, i.message) for i in r.issues] == [
        (str(tmp_path / "b.cfg"), 2, "include cycle: a.cfg -> b.cfg -> a.cfg")]
    assert out(r) == ["", "x", ""]


def test_include_depth_limit(tmp_path: Path) -> None:
    """Ten nested include levels are fine, the eleventh is an error (Kamailio's limit)."""
    for n in range(1, 13):
        write(tmp_path / f"d{n}.cfg", f'd{n}\ninclude_file "d{n + 1}.cfg"\n')
    main = write(tmp_path / "main.cfg", 'include_file "d1.cfg"\n')
    write(tmp_path / f"d{MAX_INCLUDE_DEPTH}.cfg", "leaf\n")
    assert preprocess(str(main), environ={}).issues == []
    write(tmp_path / f"d{MAX_INCLUDE_DEPTH}.cfg", 'd10\ninclude_file "d11.cfg"\n')
    r = preprocess(str(main), environ={})
    assert [(Path(i.file).name, i.line, i.message) for i in r.issues] == [
        ("d10.cfg", 2, "too many nested includes (Kamailio allows 10 levels)")]


def test_ifdef_may_span_include_boundaries(tmp_path: Path) -> None:
    """Kamailio keeps one #!ifdef stack across files."""
    write(tmp_path / "open.cfg", "#!ifdef NOPE\n")
    main = write(tmp_path / "main.cfg", 'include_file "open.cfg"\nhidden\n#!endif\nshown\n')
    r = preprocess(str(main), environ={})
    assert out(r) == ["", "", "", "", "shown"] and r.issues == []


def test_code_after_include_on_the_same_line_is_an_error(tmp_path: Path) -> None:
    """The rest of the line would come after the included text: not representable."""
    write(tmp_path / "a.cfg", "a\n")
    r = pp('include_file "a.cfg" x = 1;\n', path=str(tmp_path / "main.cfg"))
    assert messages(r) == [(1, 1, "code after include_file/import_file on the same line is "
                                  "not supported")]


def test_lexical_state_is_per_file(tmp_path: Path) -> None:
    """An open comment in an included file is its own error; the parent reads on normally."""
    write(tmp_path / "a.cfg", "/* open\n")
    r = pp('include_file "a.cfg"\nx\n', path=str(tmp_path / "main.cfg"))
    assert out(r) == ["", "       ", "x"]
    assert [(Path(i.file).name, i.line, i.col) for i in r.issues] == [("a.cfg", 1, 1)]


def test_unreadable_main_file(tmp_path: Path) -> None:
    """A missing main file is one issue; files still lists it (for a watcher)."""
    r = preprocess(str(tmp_path / "none.cfg"), environ={})
    assert r.text == "" and r.line_map == [] and r.files == [str(tmp_path / "none.cfg")]
    assert [i.message for i in r.issues] == ["cannot read config file: No such file or directory"]


def test_crlf_and_bom_are_normalized(tmp_path: Path) -> None:
    """CRLF line ends and a UTF-8 BOM do not show up in the output."""
    main = tmp_path / "main.cfg"
    main.write_bytes(b"\xef\xbb\xbf#!define A 1\r\nx = A; # c\r\n")
    assert out(preprocess(str(main), environ={})) == ["", "x = 1;    "]


# --------------------------------------------------------------------------- source map


def test_columns_map_back_through_expansions() -> None:
    """locate() gives the source column of output positions on lines that moved."""
    r = pp('#!define LONGNAME 1\n#!define S "abcdef"\nx = LONGNAME + S + $y;\n')
    line = out(r)[2]
    assert line == 'x = 1 + "abcdef" + $y;'
    assert r.locate(3, line.index("1") + 1) == (S, 3, 5)
    assert r.locate(3, line.index('"') + 3) == (S, 3, 16)
    assert r.locate(3, line.index("$") + 1) == (S, 3, 20)
    assert r.locate(3, len(line) + 2) == (S, 3, 24)
    assert r.locate(1, 1) == (S, 1, 1) and 1 not in r.col_maps
    issue = r.issue_at(3, line.index("$") + 1, "boom")
    assert str(issue) == f"{S}:3:20: boom\n    x = LONGNAME + S + $y;\n                       ^"


def test_output_line_count_matches_line_map() -> None:
    """One output line per line_map entry, whatever the input ends with."""
    for text in ["", "a", "a\n", "a\n\n", "#!define X\\\n1", "/* a\nb */"]:
        r = pp(text)
        assert r.text.count("\n") == len(r.line_map)


DEFAULT_CFG = "/etc/kamailio/kamailio.cfg"
CFG_DEFINE_SETS = [
    {},
    {"WITH_AUTH": "", "WITH_USRLOCDB": "", "WITH_NAT": "", "WITH_MYSQL": ""},
    {name: "" for name in ("WITH_MYSQL", "WITH_AUTH", "WITH_USRLOCDB", "WITH_NAT",
                           "WITH_RTPENGINE", "WITH_IPAUTH", "WITH_PRESENCE", "WITH_ALIASDB",
                           "WITH_SPEEDDIAL", "WITH_MULTIDOMAIN", "WITH_TLS", "WITH_ANTIFLOOD",
                           "WITH_DEBUG", "WITH_ACCDB", "WITH_JSONRPC", "WITH_PSTN",
                           "WITH_VOICEMAIL", "WITH_XHTTPRPC")},
]


@pytest.mark.parametrize("defines", CFG_DEFINE_SETS, ids=["default", "auth-nat", "all"])
def test_default_kamailio_cfg_preprocesses_cleanly(defines: dict[str, str]) -> None:
    """The Debian kamailio.cfg has no preprocessor issue with its usual WITH_* sets."""
    r = preprocess(DEFAULT_CFG, defines, environ={})
    assert r.issues == []
    assert r.text.count("\n") == len(r.line_map) == len(Path(DEFAULT_CFG).read_text().split(
        "\n")) - 1
    assert r.line_map == smap(len(r.line_map), DEFAULT_CFG)
    assert r.files == [DEFAULT_CFG]
    assert "#!" not in r.text and "/*" not in r.text
    assert ("DBURL" in r.defines) == ("WITH_MYSQL" in defines)


# --------------------------------------------------------------------------- against kamailio

KAMAILIO = "/usr/sbin/kamailio"
HEADER = "auto_aliases=no\nlisten=udp:127.0.0.1:5060\n"
FOOTER = "request_route { exit; }\n"


@pytest.fixture(scope="module")
def kamailio() -> str:
    """The Kamailio binary; its absence fails the differential tests loudly."""
    if not os.access(KAMAILIO, os.X_OK):
        pytest.fail(f"{KAMAILIO} is missing: install the Debian package 'kamailio' "
                    "(apt-get install kamailio) to run the differential tests")
    return KAMAILIO


def run_kamailio(binary: str, cfg: Path, args: list[str], env: Mapping[str, str]
                 ) -> tuple[bool, set[str], str]:
    """kamailio -c: (config ok, aliases it ends up with, output)."""
    proc = subprocess.run([binary, "-f", str(cfg), "-c", *args], capture_output=True, text=True,
                          timeout=30, env={"PATH": "/usr/bin:/bin", **env}, cwd=cfg.parent)
    output = proc.stdout + proc.stderr
    aliases = set(re.findall(r"^\s+\*: (\S+)$", output, re.M))
    return proc.returncode == 0 and "config file ok" in output, aliases, output


_ALIAS = re.compile(r"""alias\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([\w.-]+))(?::(\d+))?""")


def our_aliases(result: Preprocessed) -> set[str]:
    """The aliases the preprocessed text sets, written as Kamailio prints them."""
    found = set()
    for m in _ALIAS.finditer(result.text):
        if m.group(1) is not None:
            host = decode_string(m.group(1))
        else:
            host = m.group(2) if m.group(2) is not None else m.group(3)
        found.add(f"{host}:{m.group(4) or '*'}")
    return found


def a_args(defines: dict[str, str]) -> list[str]:
    """-A options for a define table."""
    args: list[str] = []
    for name, value in defines.items():
        args += ["-A", f"{name}={value}" if value else name]
    return args


VALUE_CASES: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "define-comment": ('#!define P 5071 # c\nalias="a.example":P alias="b.example"\n', {}, {}),
    "continuation": ('#!define H "x\\\ny.example"\nalias=H\n', {}, {}),
    "cmdline-trydef-redef": ('#!trydef H "t.example"\n#!redef H2 "r.example"\n'
                             "#!redefine H2 \"r2.example\"\nalias=H alias=H2\n",
                             {"H": '"cmd.example"'}, {}),
    "recursive": ("#!define A B.example\n#!define B rec\nalias=A\n", {}, {}),
    "else-in-skipped-comment": ('#!ifdef NOPE\n/* #!else\nalias="else.example"\n#!endif\n',
                                {}, {}),
    "prefixes": ('!!define P 5075\nalias="b.example":P #!define Q 5076\n   #!def R 5077\n'
                 'alias="c.example":Q alias="d.example":R\n', {}, {}),
    "not-in-strings": ('#!define H x.example\nalias="H" alias=\'H\' alias=H\n', {}, {}),
    "subst": ('#!subst "/([a-z]+)-([0-9]+)/\\2.\\1/g"\n#!subst "/HOST/h/i"\n'
              "alias=\"ab-12.host.x\"\nalias='cd-34.x'\n", {}, {}),
    "substdef": ('#!substdef "/SH/s.example/"\n#!substdefs "/SQ/q.example/"\n'
                 'alias=SH alias="SH.x" alias=SQ alias="pre-SQ"\n', {}, {}),
    "defenv": ("#!defenv MYH=KT_HOST\n#!defenvs HQ=KT_Q\n#!trydefenv KT_MISSING\n"
               "#!ifdef KT_MISSING\nalias=\"missing.example\"\n#!endif\n"
               'alias=MYH alias=HQ alias="x.example"\n',
               {}, {"KT_HOST": "e.example", "KT_Q": "q.example"}),
    "nested-ifdef": ("#!ifdef A\n#!ifndef B\nalias=\"a-not-b.example\"\n#!else\n"
                     'alias="a-b.example"\n#!endif\n#!else\nalias="not-a.example"\n#!endif\n'
                     "#!ifdef NOPE\nalias=\"x.example\"\n#!else\nalias=\"e1.example\"\n"
                     '#!else\nalias="e2.example"\n#!endif\n', {"A": ""}, {}),
    "single-quotes-no-escapes": ("alias='a\\'\nalias='q.example'\n", {}, {}),
    "nested-block-comment": ('alias="a\\x62c.example" /* o /* i */ alias="c.example" */\n'
                             'alias="n.example"\n', {}, {}),
    "skip-quirk": ('#!ifdef NOPE\n# old: #!endif\nalias="quirk.example"\n', {}, {}),
    "define-in-comment": ('/*\n#!define P 5074\n*/\n#!ifdef P\nalias="c.example"\n#!endif\n'
                          'alias="x.example"\n', {}, {}),
    "core-defines": ('#!KAMAILIO\n#!ifdef KAMAILIO\nalias="k.example"\n#!endif\n'
                     '#!ifdef KAMAILIO_5_6\nalias="k56.example"\n#!endif\n', {}, {}),
    "loadmodule": ('loadmodule "pv.so"\nloadmodule "/usr/lib/x86_64-linux-gnu/kamailio/'
                   'modules/tm.so"\n#!ifdef MOD_pv\nalias="pv.example"\n#!endif\n'
                   '#!ifdef MOD_tm\nalias="tm.example"\n#!endif\n', {}, {}),
}


@pytest.mark.kamailio
@pytest.mark.parametrize("name", list(VALUE_CASES))
def test_same_values_as_kamailio(kamailio: str, tmp_path: Path, name: str) -> None:
    """Kamailio accepts the config and ends up with the aliases our output sets."""
    body, defines, env = VALUE_CASES[name]
    cfg = write(tmp_path / "k.cfg", HEADER + body + FOOTER)
    ok, aliases, output = run_kamailio(kamailio, cfg, a_args(defines), env)
    assert ok, output
    r = preprocess(str(cfg), defines, environ=env)
    assert r.issues == []
    assert our_aliases(r) == aliases, output


ACCEPT_CASES: dict[str, tuple[str, bool]] = {
    "define-twice": ("#!define H 1\n#!define H 2\n", False),
    "define-dash": ("#!define A-B 1\n", False),
    "ifdef-dash": ("#!ifdef A-B\n#!endif\n", False),
    "defenv-missing": ("#!defenv KT_NOT_SET\n", False),
    "trydefenv-missing": ("#!trydefenv KT_NOT_SET\n", True),
    "trydefenv-existing": ('#!define KT_HOST "d.example"\n#!trydefenv KT_HOST\n', False),
    "missing-endif": ("#!ifdef FOO\nalias=\"a.example\"\n", False),
    "stray-endif": ("#!endif\n", False),
    "substdef-existing": ('#!define H 1\n#!substdef "/H/x/"\n', False),
    "subst-bad-flag": ('#!subst "/a/b/x"\n', False),
    "subst-bad-regex": ('#!subst "/(ab/b/"\n', False),
    "subst-unquoted": ("#!subst /a/b/\n", False),
    "unterminated-string": ('alias="open\n', False),
    "event-route-name": ("#!define htable garbage(\n#!define init garbage(\n"
                         "loadmodule \"pv.so\"\nevent_route[core:worker-one-init] { exit; }\n",
                         True),
    "import-missing": ('import_file "kt-missing.cfg"\n', True),
    "include-missing": ('include_file "kt-missing.cfg"\n', False),
}


@pytest.mark.kamailio
@pytest.mark.parametrize("name", list(ACCEPT_CASES))
def test_accepts_and_rejects_like_kamailio(kamailio: str, tmp_path: Path, name: str) -> None:
    """Configs Kamailio rejects in its preprocessor we reject too, and the other way round."""
    body, expected = ACCEPT_CASES[name]
    cfg = write(tmp_path / "k.cfg", HEADER + body + FOOTER)
    env = {"KT_HOST": "e.example"}
    ok, _, output = run_kamailio(kamailio, cfg, [], env)
    assert ok == expected, output
    r = preprocess(str(cfg), environ=env)
    assert (r.issues == []) == expected, r.issues


DIVERGENT_CASES: dict[str, str] = {
    "else-alone": "#!else\n",  # Kamailio: a warning only
    "endif-with-comment": "#!ifdef A\n#!endif // A\n#!endif\n",  # Kamailio: line is a comment
    "define-without-name": "#!define\n",  # Kamailio: a comment
    "unknown-directive": "#!frobnicate\n",  # Kamailio: a comment
    "undef": "#!define H 1\n#!undef H\n",  # Kamailio 5.6: a comment, H stays defined
    "open-comment": "/* open\n",  # Kamailio: logs CRITICAL yet says the config is ok
}


@pytest.mark.kamailio
@pytest.mark.parametrize("name", list(DIVERGENT_CASES))
def test_deliberately_stricter_than_kamailio(kamailio: str, tmp_path: Path, name: str) -> None:
    """Kamailio silently accepts these (often misreading them); we report an error."""
    body = DIVERGENT_CASES[name]
    cfg = write(tmp_path / "k.cfg", HEADER + FOOTER + body)
    ok, _, output = run_kamailio(kamailio, cfg, [], {})
    assert ok, output
    assert preprocess(str(cfg), environ={}).issues != []


@pytest.mark.kamailio
def test_include_depth_and_cycles_like_kamailio(kamailio: str, tmp_path: Path) -> None:
    """Depth 10 passes and 11 fails in both; a cycle fails in both."""
    for depth, expected in ((MAX_INCLUDE_DEPTH, True), (MAX_INCLUDE_DEPTH + 1, False)):
        folder = tmp_path / f"depth{depth}"
        for n in range(1, depth):
            write(folder / f"d{n}.cfg", f'include_file "d{n + 1}.cfg"\n')
        write(folder / f"d{depth}.cfg", 'alias="leaf.example"\n')
        cfg = write(folder / "main.cfg", HEADER + 'include_file "d1.cfg"\n' + FOOTER)
        ok, _, output = run_kamailio(kamailio, cfg, [], {})
        assert ok == expected, output
        assert (preprocess(str(cfg), environ={}).issues == []) == expected
    write(tmp_path / "cyc/c1.cfg", 'include_file "c2.cfg"\n')
    write(tmp_path / "cyc/c2.cfg", 'include_file "c1.cfg"\n')
    cfg = write(tmp_path / "cyc/main.cfg", HEADER + 'include_file "c1.cfg"\n' + FOOTER)
    assert not run_kamailio(kamailio, cfg, [], {})[0]
    assert preprocess(str(cfg), environ={}).issues != []


def cfg_print(binary: str, cfg: Path, defines: dict[str, str]) -> str:
    """kamailio --cfg-print: the config with includes inlined and #!ifdef resolved."""
    proc = subprocess.run([binary, "-f", str(cfg), "--cfg-print", *a_args(defines)],
                          capture_output=True, text=True, timeout=30, check=True,
                          cwd=cfg.parent, env={"PATH": "/usr/bin:/bin"})
    return proc.stdout


def code_lines(result: Preprocessed) -> list[str]:
    """Non-blank output lines, right-stripped."""
    return [line.rstrip() for line in out(result) if line.strip()]


@pytest.mark.kamailio
@pytest.mark.parametrize("defines", CFG_DEFINE_SETS, ids=["default", "auth-nat", "all"])
def test_default_cfg_branches_match_kamailio_cfg_print(kamailio: str,
                                                       defines: dict[str, str]) -> None:
    """Our output of kamailio.cfg equals our output of Kamailio's own --cfg-print of it."""
    printed = cfg_print(kamailio, Path(DEFAULT_CFG), defines)
    ours = preprocess(DEFAULT_CFG, defines, environ={})
    theirs = preprocess_text(printed, DEFAULT_CFG, defines, environ={})
    assert theirs.issues == []
    assert code_lines(ours) == code_lines(theirs)


@pytest.mark.kamailio
def test_includes_and_quirks_match_kamailio_cfg_print(kamailio: str, tmp_path: Path) -> None:
    """Includes (nested, relative, import of a missing file), ifdefs across files."""
    write(tmp_path / "sub/a.cfg", 'alias="a.example"\ninclude_file "b.cfg"\n#!ifdef NOPE\n')
    write(tmp_path / "sub/b.cfg", '#!ifdef WITH_B\nalias="b.example"\n#!endif\n')
    cfg = write(tmp_path / "main.cfg", HEADER + 'include_file "sub/a.cfg"\nalias="hidden"\n'
                "#!endif\nimport_file \"nope.cfg\"\n#!ifdef NOPE\n# old #!else\n"
                'alias="quirk.example"\n#!endif\n' + FOOTER)
    for defines in ({}, {"WITH_B": ""}):
        printed = cfg_print(kamailio, cfg, defines)
        ours = preprocess(str(cfg), defines, environ={})
        theirs = preprocess_text(printed, str(cfg), defines, environ={})
        assert ours.issues == [] and theirs.issues == []
        assert code_lines(ours) == code_lines(theirs)
