"""Run `digitlab ARGS...`, killing the process (SIGKILL) halfway through its nth file write.

Usage: kill_during.py checkpoint|model N ARGS...  ('checkpoint': the files of a checkpoint;
'model': the final model folder's). Used by tests/test_resume.py to kill at the worst moments.
"""

import os
import signal
import sys

import digitlab.modelfiles.checkpoint_file
import digitlab.modelfiles.model_file
from digitlab.cli import main
from digitlab.fileio import atomic_write

target, nth, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
module = digitlab.modelfiles.checkpoint_file if target == "checkpoint" else digitlab.modelfiles.model_file
writes = 0


def dying_write(path, data):
    global writes
    writes += 1
    data = data.encode() if isinstance(data, str) else data
    with atomic_write(path, "wb") as f:
        f.write(data[: len(data) // 2] if writes == nth else data)
        if writes == nth:
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)


module.write_bytes_atomic = dying_write
module.write_text_atomic = dying_write
sys.argv = ["digitlab", *args]
main()
