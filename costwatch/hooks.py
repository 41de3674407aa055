"""The calls that go up the layers, made explicit (docs/design.md, "Layers").

Lower layers never import the code above them. Where the write side must start something a
higher layer owns, it sends one of these signals, and the app that owns the reaction
connects its receiver in its AppConfig.ready():

- `day_marked_dirty` (project_id, day, ledger, due_at, claim), sent after the commit that
  marked a day's rollups stale and claimed the mark (no rollup of it queued yet):
  usage/tasks.py queues one rollup of that day for due_at.
- `day_rolled_up` (project_id, day, ledger), sent by the rollup task once a day's rollups
  are recomputed: billing/tasks.py schedules the project's budget check.
"""

from django.dispatch import Signal

day_marked_dirty = Signal()
day_rolled_up = Signal()
