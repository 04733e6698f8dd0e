#!/usr/bin/env python3
"""cvc5 as an interactive SMT-LIB executable, over the cvc5 library of PyPI's wheel.

Why: cedar-policy-symcc needs cvc5 >= 1.3 and talks to `cvc5 --lang smt` through stdin and
stdout, one command at a time. Debian ships cvc5 1.0 (too old); PyPI's `cvc5` wheel (1.4) ships
the solver and its SMT-LIB parser as a library, without an executable. This is that executable:
it reads whole commands (balanced parentheses, outside strings, quoted symbols and comments),
hands each to the library's own SMT-LIB parser, runs it on one incremental solver and prints
what the solver prints, flushing after every command. Options `--name=value` are passed to the
solver (`--tlimit=60000` from SymCC); `--lang smt` is the only language. Errors are printed as
the executable prints them, `(error "...")`.

Installed by scripts/install-cvc5 (called by scripts/setup) with a launcher named `cvc5`."""
import sys
import cvc5

def options(argv):
    opts = []
    for a in argv:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            opts.append((k, v))
        elif a.startswith("--"):
            opts.append((a[2:], None))
    return opts

def chars(stream):
    while True:
        line = stream.readline()
        if line == "":
            return
        yield from line


def commands(stream):
    buf, depth, state = [], 0, None
    for ch in chars(stream):
        if state == "str":
            buf.append(ch)
            if ch == '"':
                state = None
            continue
        if state == "sym":
            buf.append(ch)
            if ch == "|":
                state = None
            continue
        if state == "comment":
            if ch == "\n":
                state = None
            continue
        if ch == ";":
            state = "comment"
            continue
        buf.append(ch)
        if ch == '"':
            state = "str"
        elif ch == "|":
            state = "sym"
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                yield "".join(buf)
                buf = []

def main():
    argv = sys.argv[1:]
    if "--version" in argv:
        print("This is cvc5 version %s (through the cvc5 Python library)" % getattr(cvc5, "__version__", "?"))
        return 0
    tm = cvc5.TermManager()

    def fresh():
        # A new solver and symbol table with the command line's options: what the cvc5
        # executable does on `(reset)` (the library's reset keeps the logic, and a second
        # set-logic is then refused).
        solver = cvc5.Solver(tm)
        for k, v in options(argv):
            if k in ("lang", "incremental"):
                continue
            solver.setOption(k, v if v is not None else "true")
        solver.setOption("incremental", "true")
        return solver, cvc5.SymbolManager(tm)

    solver, sm = fresh()
    out = sys.stdout
    for text in commands(sys.stdin):
        if text.strip("() \t\r\n") == "reset":
            solver, sm = fresh()
            continue
        parser = cvc5.InputParser(solver, sm)
        parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "stdin")
        try:
            while True:
                cmd = parser.nextCommand()
                if cmd.isNull():
                    break
                name = cmd.getCommandName()
                res = cmd.invoke(solver, sm)
                if res:
                    out.write(res if res.endswith("\n") else res + "\n")
                out.flush()
                if name == "exit":
                    return 0
        except Exception as e:  # the executable prints errors this way and, on parse errors, quits
            msg = str(e).replace('"', "'").replace("\n", " ")
            out.write('(error "%s")\n' % msg)
            out.flush()
    return 0

if __name__ == "__main__":
    sys.exit(main())
