#!/usr/bin/env python3
"""Runs the black-box API tests: every test_* function of tests/api/test_*.py, module by
module, sorted. Prints PASS/FAIL per test and ends with one line "N passed, N failed".
Usage: run.py [SUBSTRING...]   (only tests whose "module.function" contains one of them)
"""

import importlib
import inspect
import os
import signal
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import harness  # noqa: E402


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)   # so finally blocks and atexit stop what we started


def _indent(text):
    return ''.join('    ' + line + '\n' for line in text.rstrip('\n').splitlines())


def main(argv):
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    filters = argv[1:]
    passed = failed = 0

    def report(name, problems):
        nonlocal passed, failed
        if problems:
            failed += 1
            first, *rest = problems
            head, _, detail = first.partition('\n')
            print(f'FAIL {name}: {head}')
            body = '\n'.join(([detail] if detail else []) + rest)
            if body.strip():
                print(_indent(body), end='')
        else:
            passed += 1
            print(f'PASS {name}')
        sys.stdout.flush()

    tests = []   # (name, function) in run order; modules that fail to import are reported
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith('test_') and fname.endswith('.py')):
            continue
        modname = fname[:-3]
        try:
            mod = importlib.import_module(modname)
        except Exception:
            if not filters or any(f in modname for f in filters):
                report(modname, [f'import failed\n{traceback.format_exc()}'])
            continue
        for attr in sorted(dir(mod)):
            fn = getattr(mod, attr)
            if attr.startswith('test_') and inspect.isfunction(fn) and fn.__module__ == modname:
                name = f'{modname}.{attr}'
                if not filters or any(f in name for f in filters):
                    tests.append((name, fn))

    try:
        setup_error = None
        if tests:
            try:
                harness.setup()
            except Exception:
                setup_error = f'shared setup failed\n{traceback.format_exc()}'
        for name, fn in tests:
            if setup_error:
                report(name, [setup_error])
                setup_error = 'shared setup failed (see the first failure)'
                continue
            ctx = harness.Context(name)
            problems = []
            try:
                if inspect.signature(fn).parameters:
                    fn(ctx)
                else:
                    fn()
            except Exception as e:
                tb = traceback.format_exc()
                reason = f'{type(e).__name__}: {e}'.splitlines()[0] if str(e) else type(e).__name__
                problems.append(f'{reason}\n{tb}')
            finally:
                problems += ctx.close()
            if problems:
                problems += ctx.server_logs()
            report(name, problems)
    finally:
        shutdown_problems = harness.shutdown()
    if shutdown_problems:
        report('[harness] shutdown', shutdown_problems)
    print(f'{passed} passed, {failed} failed')
    sys.stdout.flush()
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
