"""The exceptions that stop an experiment, and how a command line reports a user mistake."""

import os
import re
import sys

from absl import flags

_BAD_VALUE = re.compile(r'flag (--([^=\s]+)=.*?): (.*)', re.DOTALL)


def exit_with_error(message):
  """Ends a command-line program on a user mistake: one 'error: ...' line, exit code 2."""
  print(f'error: {message}', file=sys.stderr, flush=True)
  sys.exit(2)


def _expected(flag):
  """What a flag accepts, in words, or None."""
  if getattr(flag.parser, 'enum_values', None):
    return f'one of {", ".join(flag.parser.enum_values)}'
  if flag.boolean:
    return 'true or false'
  return flag.parser.syntactic_help or None


def check_command_line(argv, required=(), flag_values=flags.FLAGS):
  """Exits with one 'error:' line on positional arguments or an unset --flag of `required`."""
  if len(argv) > 1:
    exit_with_error(f'unexpected arguments {argv[1:]}; every setting is a --flag')
  for name in required:
    if not flag_values[name].value:
      exit_with_error(f'--{name}: required')


def flag_error_message(error, flag_values=flags.FLAGS):
  """The one-line message for an exception raised while absl parsed the command line."""
  if isinstance(error, flags.UnrecognizedFlagError):
    hint = str(error).partition('Did you mean: ')[2].strip(' ?')
    hint = f'did you mean --{hint}? ' if hint else ''
    return f'{error.flagvalue or error.flagname}: unknown flag; {hint}--helpfull lists them all'
  text = str(error).strip()
  if isinstance(error, flags.CantOpenFlagFileError):
    return f'--flagfile: cannot open it ({text.partition("Unable to open flagfile: ")[2]})'
  missing = re.fullmatch(r'Missing value for flag (--\S+)', text)
  if missing:
    return f'{missing.group(1)}: missing value (write {missing.group(1)}=VALUE)'
  match = _BAD_VALUE.fullmatch(text)
  if match:
    flag_text, name, detail = match.groups()
    expected = _expected(flag_values[name]) if name in flag_values else None
    return f'{flag_text}: expected {expected}' if expected else f'{flag_text}: {detail}'
  if isinstance(error, ValueError):  # absl's own words, e.g. '--nodropout=1 does not take ...'
    return re.sub(r'^(--\S+) ', r'\1: ', text)
  return text.replace('\n', ' ')


def parse_flags(argv):
  """absl's flag parser for app.run, but a bad flag is one 'error:' line and exit code 2."""
  try:
    return flags.FLAGS(argv)
  except (flags.Error, ValueError) as e:
    exit_with_error(flag_error_message(e))


def os_error_message(error, flag, directory):
  """One line for an OSError, naming --flag when the file at fault is in `directory`."""
  where = os.path.abspath(error.filename) if error.filename else None
  inside = where is None or (where + os.sep).startswith(os.path.abspath(directory) + os.sep)
  reason = error.strerror or str(error)
  if inside:
    return f'--{flag}={directory}: cannot write {error.filename or "there"} ({reason})'
  return f'{error.filename}: {reason}'


class UserInputError(ValueError):
  """A mistake in flags, files or directories; runners print it as a one-line error.

  The message names the flag or file at fault and what was expected. It is raised before any
  training starts, so a run that fails this way leaves no output behind.
  """


class TrainingDivergedError(RuntimeError):
  """The training loss became NaN or infinite; the run's weights are not fit to prune from."""
