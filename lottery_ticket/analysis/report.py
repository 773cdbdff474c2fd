"""Report on a finished (or running) experiment: tables, the paper's figures and report.md.

  python -m lottery_ticket.analysis.report --experiment_dir=DIR --output_dir=OUT [--tolerance=0.2]

writes runs.csv (one row per run), summary.csv (per kind and percent remaining, over trials),
figure1.png, figure3.png, figure4.png, report.md, for networks reported at fixed iterations
(ResNet, VGG) figure_iterations.png, where several mask criteria were run figure_criteria.png,
where masks were learned (edge-popup, biprop) figure_learned_masks.png, where masks were chosen
at initialization (analysis.pruning_at_init) figure_pai.png and figure_pai_layers.png, where
sparse training was run (analysis.sparse_training) figure_sparse_training.png and, with RigL or
SET runs, figure_sparse_mask_updates.png, and where instability analyses were run
instability.csv, figure_instability_path.png and figure_instability.png into OUT, each file
atomically; where masks can be compared, report.md has analysis.masks' section. Runs in
progress are skipped and listed in the report. Mistakes (a missing, empty or foreign
--experiment_dir) end with one `error:` line and exit code 2, before anything is written.
"""

import os

from absl import app
from absl import flags

from foundations import console
from foundations import errors
from foundations import save_restore
from lottery_ticket.analysis import coverage
from lottery_ticket.analysis import criteria
from lottery_ticket.analysis import early_bird
from lottery_ticket.analysis import figures
from lottery_ticket.analysis import instability
from lottery_ticket.analysis import load
from lottery_ticket.analysis import markdown
from lottery_ticket.analysis import masks
from lottery_ticket.analysis import pruning_at_init
from lottery_ticket.analysis import sparse_training
from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.analysis import verdicts

FLAGS = flags.FLAGS
OUTPUT_FILES = ('runs.csv', 'summary.csv', 'figure1.png', 'figure3.png', 'figure4.png',
                'report.md')
INSTABILITY_FIGURES = (
    ('figure_instability_path.png', 'Test error along the linear path between two copies '
                                    'trained from iteration k (random-pruned masks dashed)'),
    ('figure_instability.png', 'Instability vs the iteration k the copies were spawned at'))


def define_flags():
  flags.DEFINE_string('experiment_dir', None, 'The --output_dir of the experiment to report on.')
  flags.DEFINE_string('output_dir', None, 'Directory for the tables, figures and report.md.')
  flags.DEFINE_float('tolerance', verdicts.DEFAULT_TOLERANCE_POINTS,
                     'Percentage points below the dense network\'s test accuracy at early stop '
                     'that still count as matching it.')


def write_report(experiment_dir, output_dir, tolerance_points=verdicts.DEFAULT_TOLERANCE_POINTS):
  """Loads `experiment_dir` and writes every report file into `output_dir`.

  Args:
    experiment_dir: the --output_dir the experiment's runners wrote to.
    output_dir: where to write OUTPUT_FILES (created if needed).
    tolerance_points: percentage points of accuracy a matching ticket may lose.

  Returns:
    {file name: path} of the files written.

  Raises:
    errors.UserInputError: bad tolerance, or nothing to report on in `experiment_dir`.
  """
  if not tolerance_points >= 0:
    raise errors.UserInputError(f'--tolerance={tolerance_points}: expected a number >= 0')
  df = load.load_experiment(experiment_dir)
  runs = summary_lib.runs_table(df)
  table = summary_lib.summarize(runs)
  title = figures.experiment_title(df.attrs)
  instability_runs, instability_curves = instability.load_instability(experiment_dir)
  criteria_figures = criteria.figures_to_draw(table)
  pai = pruning_at_init.analyse(experiment_dir, runs, table)
  pai_figures = pruning_at_init.figures_to_draw(pai)
  sparse = sparse_training.analyse(experiment_dir, runs, table)
  sparse_figures = sparse_training.figures_to_draw(sparse)
  sections = (criteria.criteria_section(table) + criteria.learned_masks_section(table)
              + pruning_at_init.section(pai) + sparse_training.section(sparse))
  extra_figures = [(name, caption) for name, caption, _ in
                   criteria_figures + pai_figures + sparse_figures]
  if not instability_runs.empty:
    instability_table = instability.summarize(instability_runs)
    sections += instability.verdict_lines(instability_table, tolerance_points)
    extra_figures += INSTABILITY_FIGURES
  distances = early_bird.dense_distances(df)
  sections += early_bird.section(distances, comparison=early_bird.comparison_lines(df, runs))
  if distances:
    extra_figures.append(early_bird.FIGURE)
  sections += masks.section(masks.analyse(experiment_dir, df), experiment_dir)
  text = markdown.report_text(title, experiment_dir, runs, table, coverage.missing_runs(runs),
                              tolerance_points, sections, extra_figures)
  written = {name: os.path.join(output_dir, name) for name in OUTPUT_FILES}
  os.makedirs(output_dir, exist_ok=True)
  if not instability_runs.empty:
    written.update({name: os.path.join(output_dir, name)
                    for name in ('instability.csv',) + tuple(n for n, _ in INSTABILITY_FIGURES)})
    save_restore.save_csv(written['instability.csv'], instability_runs)
    instability.path_figure(instability_curves, written[INSTABILITY_FIGURES[0][0]], title)
    instability.instability_figure(instability_table, written[INSTABILITY_FIGURES[1][0]], title)
  for name, _, draw in criteria_figures:
    written[name] = draw(table, os.path.join(output_dir, name), title)
  if distances:
    written[early_bird.FIGURE[0]] = early_bird.figure(
        distances, os.path.join(output_dir, early_bird.FIGURE[0]), title)
  for name, _, draw in pai_figures:
    written[name] = draw(pai, os.path.join(output_dir, name), title)
  for name, _, draw in sparse_figures:
    written[name] = draw(sparse, os.path.join(output_dir, name), title)
  save_restore.save_csv(written['runs.csv'], runs)
  save_restore.save_csv(written['summary.csv'], table)
  figures.figure1(table, written['figure1.png'], title)
  figures.figure3(df, written['figure3.png'], title)
  figures.figure4(table, written['figure4.png'], title)
  iterations = df.attrs.get('report_iterations', [])
  if iterations:
    written[markdown.ITERATIONS_FIGURE[0]] = os.path.join(output_dir, markdown.ITERATIONS_FIGURE[0])
    figures.figure_report_iterations(table, written[markdown.ITERATIONS_FIGURE[0]], title,
                                     iterations)
  save_restore.save_text(written['report.md'], text + '\n')
  return written


def main(argv):
  if len(argv) > 1:
    errors.exit_with_error(
        f'unexpected arguments {argv[1:]}; every setting is a --flag (see --helpfull)')
  for name in ('experiment_dir', 'output_dir'):
    if not FLAGS[name].value:
      errors.exit_with_error(f'--{name}: required')
  try:
    written = write_report(FLAGS.experiment_dir, FLAGS.output_dir, FLAGS.tolerance)
  except errors.UserInputError as e:
    message = str(e)  # load's messages start with the directory: name the flag too
    errors.exit_with_error(
        f'--experiment_dir={message}' if message.startswith(FLAGS.experiment_dir) else message)
  except OSError as e:
    errors.exit_with_error(errors.os_error_message(e, 'output_dir', FLAGS.output_dir))
  print(f'report: {written["report.md"]}', flush=True)


if __name__ == '__main__':
  define_flags()
  app.run(main, flags_parser=console.parse_flags())
