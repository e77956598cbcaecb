"""What the learner practises after the lesson: the quiz's questions and exercises checked by digitlab.

`digitlab quiz` asks the questions one at a time; `digitlab exercises --out DIR` writes the stubs;
`digitlab check FILE.py` (and `check(fn)` in a notebook) compares each with digitlab's reference.
"""

from digitlab.exercises.practice import check, check_file, write_exercises

__all__ = ["check", "check_file", "write_exercises"]
