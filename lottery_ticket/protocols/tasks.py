"""How a sweep task narrows the sweep's config to one run of a protocol (catalog entries'
`task`): task {'trial', 'level', 'percent', 'control_trial', 'method'} -> config changes.
Nothing here imports TensorFlow.
"""


def pai_task(task):
  """A sweep's PaI task: one unablated method (random: ERK) at one size, global scope."""
  return {'pai_methods': (task['method'],), 'percent_remaining': (task['percent'],),
          'pai_ablations': ('none',), 'pai_scope': 'global',
          'sparsity_distribution': 'erk' if task['method'] == 'random' else None}


def sparse_task(task):
  """A sweep's sparse-training task: one method at one size, ERK (RigL's default)."""
  return {'dst_methods': (task['method'],), 'percent_remaining': (task['percent'],),
          'sparsity_distribution': 'erk'}


def level_task(task):
  return {'levels': task['level']}


def percent_task(task):
  return {'percent_remaining': (task['percent'],)}


def control_task(task):
  return {'ticket_levels': (task['level'],), 'control_trials': (task['control_trial'],)}
