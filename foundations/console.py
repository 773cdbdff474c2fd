"""What a command line shows a person: a grouped --help, and TensorFlow quiet unless asked.

`parse_flags(groups)` is the flag parser every entry point hands to absl's app.run: `-h` and
`--help` print the program's own flags, grouped, with their defaults, and exit 0 (`--helpfull`
stays absl's full list); a bad flag is one 'error:' line (foundations.errors).

TensorFlow prints a dozen C++ log lines on every start (oneDNN, CUDA stubs, the CPU feature
guard, a failed cuInit on a machine without a GPU), some before its log level applies.
`import_tensorflow()` imports it and initialises its devices with file descriptor 2 captured,
then passes on every captured line that is not such a notice; TF_CPP_MIN_LOG_LEVEL=2 keeps its
later INFO and WARNING lines away and its errors visible. A person who sets TF_CPP_MIN_LOG_LEVEL
or passes absl's --verbosity (-v) sees everything, as TensorFlow prints it.
"""

import contextlib
import os
import re
import sys
import tempfile
import textwrap

from absl import flags
from absl import logging

from foundations import errors

_OUR_PACKAGES = ('foundations', 'lottery_ticket', 'mnist_fc', 'cifar_conv', 'benchmarks')
_NOTICE = re.compile(
    r'^(?:[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] '  # absl C++ INFO / WARNING lines
    r'|E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit'
    r'|WARNING: All log messages before absl::InitializeLog\(\) is called'
    r'|To enable the following instructions: .* rebuild TensorFlow'
    r'|INFO: Created TensorFlow Lite XNNPACK delegate for CPU'
    # an op refused under op determinism: foundations.determinism reports it in one line
    r'|E\d{4} [\d:.]+ +\d+ graph_compiler\.cc:\d+\] Executor failed to create kernel\. '
    r'UNIMPLEMENTED: .*determinis|\t \[\[\{\{node .*\}\}\]\]$)')
_QUIET = {'quiet': None}  # decided once per process, from the command line and environment
_QUIET_ENV = 'LOTTERY_TICKET_QUIET'  # set by a quiet process for the ones it starts (sweep workers)


def verbose_requested(argv=None):
  """True if the person asked to see TensorFlow's and absl's logs."""
  argv = sys.argv if argv is None else argv
  asked = any(re.match(r'^--?(?:verbosity|v)(?:=|$)', arg) for arg in argv[1:])
  inherited = os.environ.get(_QUIET_ENV) == '1'
  return asked or ('TF_CPP_MIN_LOG_LEVEL' in os.environ and not inherited)


def quiet_logs(argv=None):
  """Turns TensorFlow's C++ INFO and WARNING lines off (errors stay), unless asked for them.

  Must run before TensorFlow is imported. Returns whether logs are quiet.
  """
  if _QUIET['quiet'] is None:
    _QUIET['quiet'] = not verbose_requested(argv)
    if _QUIET['quiet']:
      os.environ.update({'TF_CPP_MIN_LOG_LEVEL': '2', _QUIET_ENV: '1'})
  return _QUIET['quiet']


def quiet_python_logs():
  """absl's Python handler (and so matplotlib's and TensorFlow's loggers): errors only."""
  if _QUIET['quiet']:
    logging.set_verbosity(logging.ERROR)


@contextlib.contextmanager
def notices_dropped():
  """Within the block, lines written to file descriptor 2 that are start-up notices of
  TensorFlow or LiteRT are dropped and the others passed on at its end (when logs are quiet)."""
  if not quiet_logs():
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode='w+b') as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode(errors='replace').splitlines(keepends=True)
      sys.stderr.write(''.join(line for line in lines if not _NOTICE.match(line)))
      sys.stderr.flush()


def import_tensorflow():
  """Imports TensorFlow and lists its devices, dropping its start-up notices; returns tf."""
  if 'tensorflow' not in sys.modules:
    with notices_dropped():
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      tf.config.list_physical_devices()  # cuInit and the device notices happen here
  import tensorflow as tf  # pylint: disable=g-import-not-at-top,reimported
  return tf


def our_flags(flag_values=flags.FLAGS):
  """The names of the flags this project defines (not absl's, TensorFlow's or tfds')."""
  names = []
  for module, module_flags in flag_values.flags_by_module_dict().items():
    main_script = module in ('__main__', sys.argv[0]) or module.endswith('.py')
    if main_script or module.split('.')[0] in _OUR_PACKAGES:
      names.extend(flag.name for flag in module_flags)
  return names


def _describe(flag):
  """'  --name (default: D)' and the help text, indented; no default shown when it is unset."""
  name = f'--[no]{flag.name}' if flag.boolean else f'--{flag.name}'
  default = flag.default_as_str.strip("'") if flag.default not in (None, [], '') else ''
  body = textwrap.fill(' '.join((flag.help or '').split()), width=94, initial_indent='      ',
                       subsequent_indent='      ')
  return f'  {name}' + (f' (default: {default})' if default else '') + f'\n{body}'


def help_text(groups, flag_values=flags.FLAGS):
  """`--help`'s text: the program's docstring, then each (title, flag names) group."""
  program = os.path.basename(sys.argv[0])
  main = sys.modules.get('__main__')
  module = getattr(getattr(main, '__spec__', None), 'name', None)
  usage = f'python -m {module}' if module else program
  parts = [f'usage: {usage} [--flag=value ...]']
  doc = (getattr(main, '__doc__', None) or '').strip()
  if doc:
    parts.append(doc)
  for title, names in groups:
    described = [_describe(flag_values[name]) for name in names if name in flag_values]
    if described:
      parts.append(f'{title}:\n' + '\n'.join(described))
  parts.append('--helpfull lists every flag, absl\'s own included.')
  return '\n\n'.join(parts) + '\n'


def parse_flags(groups=None):
  """absl's flag parser for app.run: -h/--help prints `groups` (default: all our flags) and
  exits 0; a bad flag is one 'error:' line and exit code 2; logs are quiet unless asked."""

  def parse(argv):
    quiet_logs(argv)
    arguments = argv[1:argv.index('--')] if '--' in argv else argv[1:]
    if any(arg in ('-h', '--help', '-help', '--h') for arg in arguments):
      sys.stdout.write(help_text(groups or [('flags', our_flags())]))
      sys.exit(0)
    remaining = errors.parse_flags(argv)
    quiet_python_logs()
    return remaining

  return parse
