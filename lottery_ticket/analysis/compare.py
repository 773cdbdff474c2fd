"""Several experiments side by side: the paper's Figures 7 and 8 compare IMP reset to θ0 with IMP
rewound to iteration k (or with learning-rate warmup), each against its random controls.

  python -m lottery_ticket.analysis.compare --experiment_dirs=A,B --labels="reset,rewind k=100" \\
      --output_dir=OUT

writes comparison.csv (one row per experiment, kind and percent remaining) and comparison.png:
test accuracy vs percent remaining, one panel per report iteration (or at early stop when the
runs have no report iterations), one colour per experiment, winning tickets solid and random
controls dashed.
"""

from absl import app
from absl import flags
import pandas as pd

from foundations import console
from foundations import errors
from foundations import save_restore
from lottery_ticket.analysis import figures
from lottery_ticket.analysis import load
from lottery_ticket.analysis import summary as summary_lib

FLAGS = flags.FLAGS


def comparison_table(experiment_dirs, labels):
  """summarize() of each experiment, with an `experiment` column holding its label."""
  if len(labels) != len(experiment_dirs):
    raise errors.UserInputError(f'--labels: {len(labels)} labels for {len(experiment_dirs)} '
                                '--experiment_dirs')
  tables = []
  for directory, label in zip(experiment_dirs, labels):
    try:
      table = summary_lib.summarize(load.load_experiment(directory))
    except errors.UserInputError as e:
      raise errors.UserInputError(f'--experiment_dirs: {e}') from None
    tables.append(table.assign(experiment=label))
  table = pd.concat(tables, ignore_index=True)
  table.attrs['report_iterations'] = sorted(set().union(
      *(t.attrs.get('report_iterations', []) for t in tables)))
  return table


def comparison_figure(table, path, title):
  """Accuracy vs percent remaining per report iteration; colour = experiment, dash = control."""
  iterations = table.attrs.get('report_iterations') or []
  statistics = [summary_lib.report_column(i) for i in iterations] or [
      'test_accuracy_at_early_stop']
  figure, axes = figures.panels(len(statistics))
  colors = figures.series_colors(len(set(table['experiment'])))
  for axes_, statistic in zip(axes, statistics):
    for color, (label, part) in zip(colors, table.groupby('experiment', sort=False)):
      for kind in summary_lib.kind_order(part['kind']):
        rows = part[part['kind'] == kind]
        axes_.plot(rows['percent_remaining'], rows[f'{statistic}_mean'] * 100, marker='o',
                   markersize=4, color=color,
                   linestyle='--' if kind in summary_lib.CONTROL_KINDS else '-',
                   label=f'{label}: {summary_lib.kind_label(kind)}')
    figures.percent_axis(axes_, table['percent_remaining'])
    axes_.set_title(statistic.replace('test_accuracy_at_', 'iteration ').replace('_', ' '))
    axes_.set_ylabel('test accuracy (%)')
  handles, labels = axes[0].get_legend_handles_labels()
  figure.legend(handles, labels, loc='outside lower center', ncol=2)
  figure.suptitle(f'{title}: means over trials')
  return figures.save(figure, path)


def main(argv):
  errors.check_command_line(argv, ('experiment_dirs', 'output_dir'))
  labels = FLAGS.labels or FLAGS.experiment_dirs
  try:
    table = comparison_table(FLAGS.experiment_dirs, labels)
    save_restore.save_csv(f'{FLAGS.output_dir}/comparison.csv', table)
    comparison_figure(table, f'{FLAGS.output_dir}/comparison.png', ' vs '.join(labels))
  except errors.UserInputError as e:
    errors.exit_with_error(str(e))
  except OSError as e:
    errors.exit_with_error(f'--output_dir={FLAGS.output_dir}: cannot write ({e})')
  print(f'comparison: {FLAGS.output_dir}/comparison.png', flush=True)


if __name__ == '__main__':
  flags.DEFINE_list('experiment_dirs', None, 'The --output_dir of each experiment to compare.')
  flags.DEFINE_list('labels', None, 'A label per experiment (default: the directories).')
  flags.DEFINE_string('output_dir', None, 'Directory for comparison.csv and comparison.png.')
  app.run(main, flags_parser=console.parse_flags())
