"""What this CPU can do fast, read from /proc/cpuinfo (Linux; elsewhere nothing is known).

bfloat16 matmuls and convolutions are native only with AVX512_BF16 or AMX-BF16 (Zen 4, Xeons
from Cooper Lake on); without them oneDNN emulates bfloat16 in float32 and the casts make a
mixed_bfloat16 step slower than a float32 one (docs/performance.md has the measurements).
"""

import functools

BFLOAT16_FLAGS = ('avx512_bf16', 'amx_bf16')
REPORTED_FLAGS = ('avx2', 'avx512f') + BFLOAT16_FLAGS


@functools.lru_cache(maxsize=None)
def cpuinfo():
  """{'model name', 'cpu family', 'model', 'flags', ...} of the first CPU ({} when unreadable)."""
  info = {}
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        key, _, value = line.partition(':')
        info.setdefault(key.strip(), value.strip())
        if key.strip() == 'flags':
          break
  except OSError:
    pass
  return info


def flags():
  """The CPU's instruction-set flags (an empty set when unknown)."""
  return set(cpuinfo().get('flags', '').split())


def has_native_bfloat16():
  """True or False where /proc/cpuinfo tells, None where it does not."""
  known = flags()
  return bool(known & set(BFLOAT16_FLAGS)) if known else None


def describe():
  """The CPU in words: model (family and model numbers) and the REPORTED_FLAGS it has."""
  info = cpuinfo()
  model = info.get('model name', 'unknown CPU')
  if 'cpu family' in info:
    model += f' (family {info["cpu family"]} model {info.get("model", "?")})'
  present = [name for name in REPORTED_FLAGS if name in flags()]
  return f'{model}{", " + " ".join(present) if present else ""}'


def emulated_bfloat16_warning(precision, on_gpu):
  """The warning line for --precision=mixed_bfloat16 on a CPU that lacks bfloat16 instructions
  (None otherwise, and where the CPU's flags are unknown)."""
  if precision != 'mixed_bfloat16' or on_gpu or has_native_bfloat16() is not False:
    return None
  return ('warning: --precision=mixed_bfloat16 on a CPU without bfloat16 instructions '
          f'({" or ".join(BFLOAT16_FLAGS)} in /proc/cpuinfo: {describe()}): TensorFlow emulates '
          'them, so training is slower than in float32 (docs/performance.md)')
