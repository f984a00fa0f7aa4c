"""The Substrait validator lane: every plan under PLANS (`<pack>/<rule>.substrait`) through
substrait-validator, offline. Fails on any error, and on any warning beyond those listed in
WARNINGS (one line per kind: `count<TAB>code<TAB>name<TAB>message`, digits in messages
written as N), so the list can shrink but not grow. Writes the current tally to TALLY.

usage: python validate.py PLANS WARNINGS TALLY
"""

import collections
import pathlib
import re
import sys

import substrait_validator as sv

CODES = sv.get_diagnostic_codes()  # {code: (name, description, parent)}


def config():
    # No URI resolver: the validator (Substrait 0.57) reads neither today's standard
    # extension YAMLs nor rulec's (their `urn` key is newer), and fetches nothing. Each
    # extension then gets warning 2001, "did not attempt to resolve YAML".
    return sv.Config()


# One diagnostic per line of the validator's text: `Level at PATH: MESSAGE (code NNNN)`.
# (Its protobuf result nests as deep as the plan, past the Python protobuf decoder's limit
# of 100 levels on TPC-DS plans; the text does not.)
LINE = re.compile(r"^(Info|Warning|Error) at (.*?): (.*) \(code (\d+)\)$")


def diagnostics(data):
    """(level, path, message, code) of each diagnostic of a plan."""
    out = []
    for line in sv.plan_to_diagnostics_str(data, config()).splitlines():
        match = LINE.match(line)
        if match:
            level, path, message, code = match.groups()
            out.append((level, path, message, int(code)))
        elif out:
            level, path, message, code = out[-1]
            out[-1] = (level, path, message + "\n" + line, code)
    return out


def key(code, message):
    """A warning's kind: its code, and its message with numbers as N and a repeated list
    item once (`x[N], x[N], x[N]` as `x[N], …`)."""
    message = re.sub(r"\d+", "N", message)
    message = re.sub(r"([\w<>]+\[N\])(, \1)+", r"\1, …", message)
    return (code, CODES.get(code, ("?",))[0], message)


def main(plans_dir, warnings_path, tally_path):
    plans = sorted(pathlib.Path(plans_dir).glob("*/*.substrait"))
    if not plans:
        sys.exit(f"no plans under {plans_dir}")
    # The lane can fail: a plan cut short is an error to the validator, as this script reads it.
    cut = plans[0].read_bytes()[:-7]
    if not any(level == "Error" for level, *_ in diagnostics(cut)):
        sys.exit("the validator found no error in a truncated plan: the lane cannot see errors")
    errors = []
    warnings = collections.Counter()
    for plan in plans:
        data = plan.read_bytes()
        where = f"{plan.parent.name}/{plan.stem}"
        for level, path, message, code in diagnostics(data):
            if level == "Error":
                errors.append(f"{where}: error {code:04d} at {path}: {message}")
            elif level == "Warning":
                warnings[key(code, message)] += 1
    tally = "".join(
        f"{count}\t{code:04d}\t{name}\t{message}\n"
        for (code, name, message), count in sorted(warnings.items())
    )
    pathlib.Path(tally_path).write_text(tally)
    allowed = {}
    for line in pathlib.Path(warnings_path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        count, code, name, message = line.split("\t", 3)
        allowed[(int(code), name, message)] = int(count)
    grown = [
        f"{count} × {code:04d} {name}: {message} (listed: {allowed.get((code, name, message), 0)})"
        for (code, name, message), count in sorted(warnings.items())
        if count > allowed.get((code, name, message), 0)
    ]
    print(f"{len(plans)} plans, {len(errors)} errors, {sum(warnings.values())} warnings of {len(warnings)} kinds")
    for line in errors[:50]:
        print(line)
    for line in grown:
        print("warning beyond the list:", line)
    shrunk = [k for k, n in allowed.items() if warnings.get(k, 0) < n]
    if shrunk:
        print(f"{len(shrunk)} listed warning kinds occur less often now: copy {tally_path} over {warnings_path}")
    if errors or grown:
        sys.exit(1)


if __name__ == "__main__":
    main(*sys.argv[1:4])
