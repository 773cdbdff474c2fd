"""The exceptions that stop an experiment, and how a command line reports a user mistake."""

import sys


def exit_with_error(message):
  """Ends a command-line program on a user mistake: one 'error: ...' line, exit code 2."""
  print(f'error: {message}', file=sys.stderr, flush=True)
  sys.exit(2)


class UserInputError(ValueError):
  """A mistake in flags, files or directories; runners print it as a one-line error.

  The message names the flag or file at fault and what was expected. It is raised before any
  training starts, so a run that fails this way leaves no output behind.
  """


class TrainingDivergedError(RuntimeError):
  """The training loss became NaN or infinite; the run's weights are not fit to prune from."""
