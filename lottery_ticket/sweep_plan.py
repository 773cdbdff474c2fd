"""The sweep's plan: every run of the paper's protocol as a Task, with the runs it needs.

Run directories and labels are the protocols' own (their catalog naming rules). Nothing here
imports TensorFlow.
"""

import dataclasses

from lottery_ticket.protocols import catalog


@dataclasses.dataclass
class Task:
  """One run: where it is recorded, the runs it needs, and what the worker is told."""
  id: int
  run_dir: str
  needs: tuple
  spec: dict  # protocol, trial, level, percent, control_trial, method
  label: str

  @property
  def priority(self):
    """Lottery levels first (the critical path), then one-shot runs, then controls (each
    protocol's catalog plan_priority)."""
    return (catalog.get(self.spec['protocol']).plan_priority, self.spec.get('level') or 0,
            self.spec['trial'], self.id)


def plan(config, trials, one_shot, reinit_trials, random_prune_trials, control_levels,
         prune_at_init=(), prune_at_init_remaining=(), sparse_training=(),
         sparse_training_remaining=()):
  """Every run of the protocol as Tasks, in priority order.

  `prune_at_init` methods run at each of `prune_at_init_remaining`; they need no other run,
  unless they start from the dense run's θk (--rewind_iteration). `sparse_training` methods
  (ERK) run at each of `sparse_training_remaining` and need no other run.

  Each task's run directory and label are the ones its protocol's catalog naming rule gives
  for the task's config (the last run that config writes): the sweep names no run itself.
  """
  tasks = []

  def add(needs, **spec):
    run = catalog.get(spec['protocol']).run_dirs(catalog.task_config(config, spec))[-1]
    tasks.append(Task(len(tasks), run.run_dir, tuple(needs), spec, run.label))
    return run.run_dir

  for trial in trials:
    ticket = {}
    for level in range(config.levels + 1):
      ticket[level] = add([ticket[level - 1]] if level else [], protocol='lottery',
                          trial=trial, level=level)
    for level in control_levels:
      for kind, count in (('reinit', reinit_trials), ('random_prune', random_prune_trials)):
        for k in range(1, count + 1):
          add([ticket[level]], protocol=kind, trial=trial, level=level, control_trial=k)
    for percent in one_shot:
      add([ticket[0]], protocol='one_shot', trial=trial, percent=percent)
    for method in prune_at_init:
      for percent in prune_at_init_remaining:
        add([ticket[0]] if config.rewind_iteration else [], protocol='prune_at_init',
            trial=trial, method=method, percent=percent)
    for method in sparse_training:
      for percent in sparse_training_remaining:
        add([], protocol='sparse_training', trial=trial, method=method, percent=percent)
  return sorted(tasks, key=lambda task: task.priority)
