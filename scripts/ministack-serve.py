"""MiniStack's own entry point (ministack.app:main), with one difference: the process ends as soon
as the server has shut down, which is after its graceful stop saved the state.

Without this, Python waits at exit for every thread pool's workers. A Step Functions Map state runs
its iterations in a thread pool, and an iteration waiting on a task token blocks until the task's
timeout (900 s for a region sync, tried up to 3 times), so an emulator stopped with builds in
flight would not exit for many minutes after its state was already saved. Those executions are
lost either way: MiniStack restores a RUNNING execution as FAILED (States.ServiceRestart).

scripts/emulator.sh runs this with the venv's Python; its process stays recognisable as MiniStack
by the word `ministack` in its command line.
"""
import os
import sys
import traceback

from ministack.app import main

code = 0
try:
    main()
except SystemExit as stop:
    code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
except BaseException:  # noqa: BLE001 - whatever ended the server, report it and exit non-zero
    traceback.print_exc()
    code = 1
finally:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
