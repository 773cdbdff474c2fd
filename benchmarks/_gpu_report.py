"""benchmarks.gpu_check's verdicts and its Markdown report, from the JSON-ready report dict."""


def _number(value, digits=1):
  return '—' if value is None else f'{value:,.{digits}f}'


def checks(report):
  """{check: passed}: placement on the expected device; --deterministic reruns bit for bit;
  on a CPU also that --deterministic changes no result (there it changes no kernel)."""
  device = report['expected_device']
  found = {f'{name}: variables and training step outputs on {device}':
           entry['placement']['on_device'] for name, entry in report['training'].items()}
  found['two --deterministic runs: every result file bit for bit'] = not report[
      'determinism']['deterministic_reruns']
  if device.startswith('CPU'):
    found['CPU: --deterministic changes no result'] = not report['determinism'][
        'without_and_with']
  return found


def _training_table(training, precisions):
  base = precisions[0]
  lines = ['| network | batch | XLA | ' + ' | '.join(f'{p} steps/s' for p in precisions) +
           ''.join(f' | {p} / {base}' for p in precisions[1:]) + ' |',
           '|---|---|---|' + '---|' * (2 * len(precisions) - 1)]
  for name, entry in training.items():
    ratios = [entry[p] / entry[base] if entry[p] and entry[base] else None
              for p in precisions[1:]]
    xla = 'yes' if entry['jit_compile'] else 'no'
    lines.append(f'| {name} | {entry["batch_size"]} | {xla} | ' +
                 ' | '.join(_number(entry[p]) for p in precisions) +
                 ''.join(f' | {_number(r, 2)}x' if r else ' | —' for r in ratios) + ' |')
  return lines


def _sweep_table(sweep):
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
  lines = ['| compared | every result file bit for bit | differing |', '|---|---|---|']
  for key, label in (('deterministic_reruns', 'two runs with --deterministic'),
                     ('without_and_with', 'without and with --deterministic')):
    differing = determinism[key]
    lines.append(f'| {label} | {"no" if differing else "yes"} | '
                 f'{"; ".join(differing[:3]) + (" ..." if len(differing) > 3 else "") or "—"} |')
  return lines


def markdown(report):
  """The report as Markdown: device, placement, training, sweep, determinism and the checks."""
  training = report['training']
  precisions = report['precisions']
  placement = ['| network | variables on | training step outputs on |', '|---|---|---|']
  placement += [f'| {name} | {", ".join(e["placement"]["variables"])} | '
                f'{", ".join(e["placement"]["step_outputs"])} |' for name, e in training.items()]
  seconds = ', '.join(f'{part} {value:.0f} s' for part, value in report['seconds'].items())
  lines = [f'# GPU check: {report["device"]}', '',
           f'{report["machine"]}; TensorFlow {report["tensorflow"]}'
           f'{"; smoke run (tiny sizes)" if report["smoke"] else ""}; {seconds}.', '',
           '## Placement', '', *placement, '',
           '## Training steps/s (marginal: two lengths, extra steps over extra seconds)', '',
           *_training_table(training, precisions), '',
           f'## Sweep: {report["sweep"]["runs"]} LeNet lottery runs (--workers_per_gpu)', '',
           *_sweep_table(report['sweep']), '',
           f'## --deterministic: a LeNet lottery experiment ({report["determinism"]["files"]} '
           'result files)', '', *_determinism_table(report['determinism']), '',
           '## Checks', '']
  lines += [f'- {"PASS" if passed else "FAIL"} {check}' for check, passed in
            report['checks'].items()]
  return '\n'.join(lines) + '\n'
