"""Regenerates jinja-cases.json: expected output of each template from Python jinja2.

The environment is the one transformers uses for chat templates
(transformers/utils/chat_template_utils.py): ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[loopcontrols]) with transformers' tojson filter and
raise_exception / strftime_now globals. Cases with "trim": false use trim_blocks=lstrip_blocks=False.

    python3 -m pip install 'jinja2==3.1.6'
    cd src/test/resources/jinja && python3 make_jinja_cases.py   # writes jinja-cases.json
"""
import json
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Generation(jinja2.ext.Extension):
    """transformers' AssistantTracker as it behaves when not tracking: renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env(trim):
    env = ImmutableSandboxedEnvironment(trim_blocks=trim, lstrip_blocks=trim,
                                        extensions=[Generation, jinja2.ext.loopcontrols])

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime(2025, 3, 7, 14, 5, 9).strftime(fmt)
    return env


CTX = {
    "s": "Hello, World",
    "xs": [1, 2, 3],
    "names": ["bob", "Alice", "carol"],
    "d": {"b": 1, "a": [1, "x"], "c": None},
    "msgs": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
             {"role": "assistant", "content": "yo"}],
    "emoji": "a😀b",
    "empty": "",
    "n": None,
    "t": True,
    "f": 2.5,
}

CASES = [
    # text and whitespace control
    ("plain text", "Hello\nWorld\n"),
    ("trailing newline kept when two", "a\n\n"),
    ("crlf normalised", "a\r\nb\rc"),
    ("minus strips both sides", "a  \n  {{- s -}}  \n  b"),
    ("block minus", "x\n  {%- if t -%}\n  y\n  {%- endif -%}\n  z"),
    ("trim_blocks eats one newline", "{% if t %}\nyes\n{% endif %}\nend"),
    ("lstrip_blocks strips indentation", "a\n    {% if t %}\n    b\n    {% endif %}\nc"),
    ("lstrip not after text on same line", "a {% if t %}b{% endif %} c"),
    ("lstrip not after variable on same line", "{{ 1 }}  {% if t %}x{% endif %}"),
    ("plus disables lstrip", "a\n    {%+ if t %}b{% endif %}"),
    ("plus disables trim", "{% if t +%}\nb{% endif %}"),
    ("comment lstrip and trim", "a\n   {# note #}\nb"),
    ("comment minus", "a   {#- note -#}   b"),
    ("variable tag not trimmed", "{{ 1 }}\n{{ 2 }}\n"),
    ("raw block", "{% raw %}{{ not parsed }}{% endraw %}!"),
    ("raw block whitespace control", "a  {%- raw -%}  \n {{ x }}  {%- endraw -%}  \n b"),
    ("raw block lstrip and trim", "a\n  {% raw %}\nx\n  {% endraw %}\nb"),
    ("no trim", "{% if t %}\n  x\n{% endif %}\n", False),
    ("no trim minus", "  {%- if t %}\n  x\n  {%- endif %}\n", False),
    ("tab indentation", "a\n\t\t{% if t %}\n\tb\n\t{% endif %}\n"),
    # literals and printing
    ("literals", "{{ 1 }} {{ -2 }} {{ 1.5 }} {{ 1e3 }} {{ 'a' \"b\" }} {{ true }} {{ none }} {{ [1, 'x'] }} {{ (1,) }} {{ {'k': 'v'} }}"),
    ("float repr", "{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 10 / 4 }} {{ 4 / 2 }} {{ 123456789.0 * 1000000000 }}"),
    ("string escapes", "{{ 'a\\nb\\t\\'q\\' \\\\ \\u00e9 \\x41' }}"),
    ("repr of strings in list", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"'] }}"),
    ("print dict and nested", "{{ d }}|{{ msgs[0] }}"),
    # operators
    ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 'ab' * 2 }} {{ xs + [4] }} {{ 1 + 2.0 }} {{ t + 1 }}"),
    ("concat tilde", "{{ 1 ~ 'a' ~ none ~ undefined_var ~ [1] }}"),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ t == 1 }} {{ [1,2] == [1,2] }} {{ (1,2) == [1,2] }} {{ n == none }} {{ 'a' != 'b' }}"),
    ("in operator", "{{ 'ell' in s }} {{ 2 in xs }} {{ 'a' in d }} {{ 'z' not in d }} {{ 4 not in xs }} {{ 'x' in undefined_var }}"),
    ("and or not", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ '' and 1 }} {{ not xs }} {{ not empty }} {{ n or 'dflt' }}"),
    ("conditional expression", "{{ 'a' if t else 'b' }} {{ 'a' if n else 'b' }} [{{ 'a' if n }}]"),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ not 1 == 2 }} {{ xs|length - 1 }} {{ 10 - 2 - 3 }}"),
    # subscripts and slices
    ("indexing", "{{ xs[0] }} {{ xs[-1] }} {{ s[1] }} {{ s[-1] }} {{ d['b'] }} {{ d.b }} {{ msgs[1].content }} [{{ xs[10] }}] {{ xs.0 }}"),
    ("slicing", "{{ xs[::-1] }} {{ xs[1:] }} {{ xs[:-1] }} {{ s[::2] }} {{ s[-5:] }} {{ s[::-1] }} {{ xs[5:] }} {{ xs[-10:2] }} {{ s[3:1] }} {{ xs[::-2] }} {{ xs[2:0:-1] }}"),
    ("emoji indexing is by code point", "{{ emoji|length }} {{ emoji[1] }} {{ emoji[::-1] }} {{ emoji[2:] }}"),
    ("missing attribute is undefined", "[{{ d.zzz }}] {{ d.zzz is defined }} {{ n.x is defined }}"),
    # string methods
    ("startswith endswith", "{{ s.startswith('Hell') }} {{ s.endswith('World') }} {{ s.startswith(('x', 'He')) }} {{ s.startswith('World', 7) }}"),
    ("split", "{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a</think>b'.split('</think>')[-1] }} {{ 'x'.split('y') }} {{ 'a b c'.rsplit(' ', 1) }} {{ '  a  b  '.split(none, 1) }}"),
    ("strip family", "[{{ '  x  '.strip() }}] [{{ '\\n\\nx\\n'.strip('\\n') }}] [{{ 'xxhixx'.lstrip('x') }}] [{{ 'xxhixx'.rstrip('x') }}] [{{ '\\n a \\n'.lstrip() }}] [{{ 'abcba'.strip('ab') }}]"),
    ("case methods", "{{ s.upper() }} {{ s.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'AbC'.swapcase() }}"),
    ("find replace count", "{{ s.find('o') }} {{ s.rfind('o') }} {{ s.find('zz') }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} {{ s.count('l') }} {{ s.index('W') }}"),
    ("join and misc", "{{ '-'.join(['a', 'b']) }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ '5'.zfill(3) }} {{ 'ab'.center(6, '*') }} {{ 'a=b'.partition('=') }} {{ 'x{}y{}'.format(1, 'z') }}"),
    ("splitlines", "{{ 'a\\nb\\r\\nc\\n'.splitlines() }} {{ 'a\\nb'.splitlines(true) }}"),
    ("dict methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys()|list }} {{ d.get('b') }} {{ d.get('q', 'dflt') }} [{{ d.get('q') }}]"),
    # filters
    ("filters basic", "{{ xs|length }} {{ s|upper }} {{ s|lower }} {{ '  x '|trim }} {{ 'xxy'|trim('x') }} {{ names|join(', ') }} {{ names|first }} {{ names|last }} {{ 'ab'|list }}"),
    ("filter default", "{{ undefined_var|default('d') }} {{ n|default('d') }} {{ ''|default('d', true) }} {{ 0|default(5, boolean=true) }} {{ undefined_var|d('x') }}"),
    ("filter sort unique reverse", "{{ names|sort }} {{ names|sort(reverse=true) }} {{ names|sort(case_sensitive=true) }} {{ [3,1,2,1]|unique|list }} {{ xs|reverse|list }} {{ 'abc'|reverse }}"),
    ("filter map select", "{{ msgs|map(attribute='role')|list }} {{ msgs|selectattr('role', 'equalto', 'user')|list|length }} {{ msgs|rejectattr('role', 'eq', 'system')|map(attribute='content')|join(',') }} {{ [0,1,2,'',none]|select|list }} {{ xs|map('string')|join }} {{ xs|select('odd')|list }}"),
    ("filter numeric", "{{ '42'|int }} {{ 'x'|int }} {{ '4.5'|float }} {{ 3.7|int }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ xs|sum }} {{ xs|max }} {{ xs|min }}"),
    ("filter items dictsort", "{{ d|items|list }} {{ d|dictsort }} {{ undefined_var|items|list }}"),
    ("filter string misc", "{{ 123|string }} {{ 'a b c'|wordcount }} {{ 'hello world'|title }} {{ 'hello'|capitalize }} {{ 'a\\nb'|indent(2) }} {{ 'a\\nb'|indent(2, true) }} {{ '<a>'|e }} {{ 'abc'|replace('b', 'B') }} {{ '%s-%d'|format('a', 3) }}"),
    ("tojson", "{{ d|tojson }} {{ 'é\"\\n'|tojson }} {{ [1, 2.5, true, none, 'x']|tojson }} {{ {'a': {'b': []}}|tojson(indent=2) }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ xs|tojson(separators=[',', ':']) }}"),
    ("tojson unicode and emoji", "{{ {'k': 'a😀\\u2028\\x7f\\x01'}|tojson }} {{ 'a😀'|tojson(ensure_ascii=true) }}"),
    # tests
    ("tests", "{{ n is none }} {{ n is not none }} {{ s is string }} {{ xs is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ t is boolean }} {{ d is mapping }} {{ xs is sequence }} {{ s is iterable }} {{ undefined_var is defined }} {{ s is defined }} {{ false is false }} {{ 0 is false }} {{ true is true }}"),
    ("tests with args", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 2 is in xs }} {{ 'a' is eq 'a' }} {{ 3 is gt 2 }} {{ 'ab' is lower }} {{ n is sameas none }} {{ range is callable }}"),
    # loops
    ("loop variables", "{% for x in names %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }} {% endfor %}"),
    ("loop prev next cycle", "{% for x in xs %}[{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.cycle('a','b') }}]{% endfor %}"),
    ("loop else", "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in xs %}{{ x }}{% else %}no{% endfor %}"),
    ("loop filter", "{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}"),
    ("loop over dict and string", "{% for k in d %}{{ k }}{% endfor %} {% for c in 'abc' %}{{ c }}.{% endfor %}"),
    ("loop unpack", "{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }} {% endfor %}"),
    ("break continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    ("nested loops", "{% for a in xs %}{% for b in xs %}{{ loop.index0 }}{% endfor %}{{ loop.index0 }};{% endfor %}"),
    ("reverse messages loop", "{% for m in msgs[::-1] %}{% set i = (msgs|length - 1) - loop.index0 %}{{ i }}:{{ m.role }} {% endfor %}"),
    ("range", "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }}"),
    # scoping
    ("set in loop does not leak", "{% set x = 0 %}{% for i in xs %}[{{ x }}]{% set x = i %}({{ x }}){% endfor %}{{ x }}"),
    ("set in if leaks", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}"),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for x in xs %}{% set ns.count = ns.count + x %}{% if x == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}"),
    ("namespace from dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}"),
    ("set tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}"),
    ("block set", "{% set body %}x{{ 1 + 1 }}y{% endset %}[{{ body }}]"),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}"),
    ("macro sees globals", "{% macro m() %}{{ s }}{% endmacro %}{{ m() }}"),
    ("filter block", "{% filter upper %}abc{{ 'd' }}{% endfilter %}"),
    ("generation block", "{% generation %}gen{% endgeneration %}"),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M:%S %d %b %Y %A %j %I%p') }}"),
    ("dict literal and trailing commas", "{{ {'a': 1, 'b': 2,}['b'] }} {{ [1, 2,]|length }} {{ dict(x=1, y=2) }}"),
    ("string percent format", "{{ '%s is %d years' % ('Al', 30) }} {{ '%05.2f' % 3.14159 }} {{ '%%' % () }}"),
    ("multiline expression", "{{\n  'a' ~\n  'b'\n}}"),
    ("chat style", "{%- for message in msgs %}\n    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"),
    # errors (only that an error happens is checked)
    ("error raise_exception", "{{ raise_exception('bad conversation') }}", True, "error"),
    ("error undefined attribute access", "{{ undefined_var.x }}", True, "error"),
    ("error calling undefined method", "{{ s.nope() }}", True, "error"),
    ("error str plus int", "{{ 'a' + 1 }}", True, "error"),
    ("error unsafe append", "{{ xs.append(4) }}", True, "error"),
    ("error unknown filter", "{{ xs|nosuchfilter }}", True, "error"),
    ("error unknown tag", "{% nosuchtag %}", True, "error"),
    ("error unclosed if", "{% if t %}x", True, "error"),
    ("error compare types", "{{ 1 < 'a' }}", True, "error"),
    ("error none not iterable", "{% for x in n %}{% endfor %}", True, "error"),
    ("error tojson undefined", "{{ undefined_var|tojson }}", True, "error"),
    ("error division by zero", "{{ 1 / 0 }}", True, "error"),
]


def main():
    out = []
    for case in CASES:
        name, template = case[0], case[1]
        trim = case[2] if len(case) > 2 else True
        expect_error = len(case) > 3 and case[3] == "error"
        entry = {"name": name, "template": template, "trim": trim}
        try:
            rendered = make_env(trim).from_string(template).render(**CTX, add_generation_prompt=True)
            if expect_error:
                raise SystemExit(f"case {name!r} was expected to fail but rendered {rendered!r}")
            entry["rendered"] = rendered
        except jinja2.exceptions.TemplateError as e:
            if not expect_error:
                raise SystemExit(f"case {name!r} failed: {e!r}")
            entry["error"] = type(e).__name__
        except Exception as e:  # TypeError, ZeroDivisionError...
            if not expect_error:
                raise SystemExit(f"case {name!r} failed: {e!r}")
            entry["error"] = type(e).__name__
        out.append(entry)
    doc = {"generator": f"make_jinja_cases.py with jinja2 {jinja2.__version__}", "context": CTX, "cases": out}
    with open("jinja-cases.json", "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    print(f"wrote {len(out)} cases")


if __name__ == "__main__":
    main()
