"""The one exception type that means "the user asked for something invalid"."""


class UserInputError(ValueError):
  """A mistake in flags, files or directories; runners print it as a one-line error.

  The message names the flag or file at fault and what was expected. It is raised before any
  training starts, so a run that fails this way leaves no output behind.
  """


class TrainingDivergedError(RuntimeError):
  """The training loss became NaN or infinite; the run's weights are not fit to prune from."""
