"""benchmarks.gpu_check's verdicts and its Markdown report, from the JSON-ready report dict.

A part that failed holds {'error': message} (a training entry: 'errors' per precision); it is
shown as such and fails its checks.
"""


def _number(value, digits=1):
  return '—' if value is None else f'{value:,.{digits}f}'


def checks(report):
  """{check: passed}: placement on the expected device; --deterministic reruns bit for bit; and
  that every part ran. (Runs with and without --deterministic are compared too, but only shown:
  under op determinism TensorFlow's cross-entropy takes another formula, even on a CPU.)"""
  device = report['expected_device']
  found = {f'{name}: variables and training step outputs on {device}':
           entry.get('placement', {}).get('on_device', False)
           for name, entry in report['training'].items()}
  determinism = report['determinism']
  found['two --deterministic runs: every result file bit for bit'] = (
      'error' not in determinism and not determinism['deterministic_reruns'])
  failed = [name for name, entry in report['training'].items() if entry.get('errors')]
  found['every timing ran' + (f' (failed: {", ".join(failed)})' if failed else '')] = (
      not failed and 'error' not in report['sweep'])
  return found


def _training_table(training, precisions):
  base = precisions[0]
  lines = ['| network | batch | XLA | ' + ' | '.join(f'{p} steps/s' for p in precisions) +
           ''.join(f' | {p} / {base}' for p in precisions[1:]) + ' |',
           '|---|---|---|' + '---|' * (2 * len(precisions) - 1)]
  for name, entry in training.items():
    ratios = [entry[p] / entry[base] if entry[p] and entry[base] else None
              for p in precisions[1:]]
    xla = {True: 'yes', False: 'no'}.get(entry.get('jit_compile'), '—')
    lines.append(f'| {name} | {entry["batch_size"]} | {xla} | ' +
                 ' | '.join(_number(entry[p]) for p in precisions) +
                 ''.join(f' | {_number(r, 2)}x' if r else ' | —' for r in ratios) + ' |')
  errors = [f'- {name} in {precision}: {message}' for name, entry in training.items()
            for precision, message in entry.get('errors', {}).items()]
  return lines + ([''] + errors if errors else [])


def _placement_table(training):
  lines = ['| network | variables on | training step outputs on |', '|---|---|---|']
  for name, entry in training.items():
    placement = entry.get('placement', {'variables': ['—'], 'step_outputs': ['—']})
    lines.append(f'| {name} | {", ".join(placement["variables"])} | '
                 f'{", ".join(placement["step_outputs"])} |')
  return lines


def _sweep_table(sweep):
  if 'error' in sweep:
    return [f'failed: {sweep["error"]}']
  counts = sorted(sweep['seconds'])
  first = sweep['seconds'][counts[0]]
  lines = ['| workers sharing the GPU | seconds | runs per minute | speed-up |',
           '|---|---|---|---|']
  for count in counts:
    seconds = sweep['seconds'][count]
    lines.append(f'| {count} | {seconds:.1f} | {60 * sweep["runs"] / seconds:.1f} | '
                 f'{first / seconds:.2f}x |')
  return lines


def _determinism_table(determinism):
  if 'error' in determinism:
    return [f'failed: {determinism["error"]}']
  lines = [f'{determinism["files"]} result files each.', '',
           '| compared | every result file bit for bit | differing |', '|---|---|---|']
  for key, label in (('deterministic_reruns', 'two runs with --deterministic'),
                     ('without_and_with', 'without and with --deterministic')):
    differing = determinism[key]
    lines.append(f'| {label} | {"no" if differing else "yes"} | '
                 f'{"; ".join(differing[:3]) + (" ..." if len(differing) > 3 else "") or "—"} |')
  return lines


def markdown(report):
  """The report as Markdown: device, placement, training, sweep, determinism and the checks."""
  training = report['training']
  seconds = ', '.join(f'{part} {value:.0f} s' for part, value in report['seconds'].items())
  runs = report['sweep'].get('runs', '')
  lines = [f'# GPU check: {report["device"]}', '',
           f'{report["machine"]}; TensorFlow {report["tensorflow"]}'
           f'{"; smoke run (tiny sizes)" if report["smoke"] else ""}; {seconds}.', '',
           '## Placement', '', *_placement_table(training), '',
           '## Training steps/s (marginal: two lengths, extra steps over extra seconds)', '',
           *_training_table(training, report['precisions']), '',
           f'## Sweep: {runs} LeNet lottery runs (--workers_per_gpu)', '',
           *_sweep_table(report['sweep']), '',
           '## --deterministic: a LeNet lottery experiment', '',
           *_determinism_table(report['determinism']), '', '## Checks', '']
  lines += [f'- {"PASS" if passed else "FAIL"} {check}' for check, passed in
            report['checks'].items()]
  return '\n'.join(lines) + '\n'
