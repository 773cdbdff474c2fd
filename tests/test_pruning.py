import types

import numpy as np
import pytest

from foundations import errors
from foundations import mask_criteria
from foundations import pruning


def test_removes_exactly_rounded_fraction_of_survivors():
  rng = np.random.default_rng(0)
  mask = np.ones((30, 10), np.float32)
  mask[:5] = 0  # 250 survivors
  new = pruning.prune_layer(mask, rng.normal(size=(30, 10)), 0.2)
  assert new.sum() == 200
  assert np.all(new[:5] == 0)  # already-pruned weights stay pruned


def test_prunes_lowest_scores():
  scores = np.array([[0.5, -0.1, 3.0, -2.0, 0.05]])
  new = pruning.prune_layer(np.ones_like(scores), scores, 0.4)
  np.testing.assert_array_equal(new, [[1, 0, 1, 0, 1]])


def test_ties_broken_by_position():
  weights = np.full((1, 6), 0.3)
  new = pruning.prune_layer(np.ones_like(weights), weights, 0.5)
  np.testing.assert_array_equal(new, [[0, 0, 0, 1, 1, 1]])


def test_ignores_magnitudes_of_pruned_weights():
  weights = np.array([[0.0, 0.0, 1.0, 2.0]])  # pruned weights read zero after training
  mask = np.array([[0.0, 0.0, 1.0, 1.0]])
  np.testing.assert_array_equal(pruning.prune_layer(mask, weights, 0.5), [[0, 0, 0, 1]])


def test_rounds_half_up():
  assert pruning.count_to_remove(0.5, 5) == 3
  assert pruning.count_to_remove(0.1, 1000) == 100


def test_lenet_rates_over_three_rounds():
  rng = np.random.default_rng(1)
  rates = {'hidden': 0.2, 'output': 0.1}
  masks = {'hidden': np.ones((100, 50), np.float32), 'output': np.ones((50, 10), np.float32)}
  history = []
  for _ in range(3):
    weights = {f'{k}/kernel': rng.normal(size=m.shape) for k, m in masks.items()}
    new = pruning.prune_by_percent(rates, masks, weights)
    assert all(np.all(new[k] <= masks[k]) for k in masks)  # monotone
    masks = new
    history.append(pruning.remaining_weights(masks))
  assert [h['hidden'] for h in history] == [4000, 3200, 2560]
  assert [h['output'] for h in history] == [450, 405, 364]


@pytest.mark.parametrize('rate', [-0.1, 1.0, 1.5])
def test_rejects_rates_outside_unit_interval(rate):
  with pytest.raises(errors.UserInputError, match='prune rate'):
    pruning.prune_by_percent({'a': rate}, {'a': np.ones((2, 2))}, {'a/kernel': np.ones((2, 2))})


def test_union_and_intersection():
  a = {'l': np.array([1.0, 1.0, 0.0, 0.0])}
  b = {'l': np.array([1.0, 0.0, 1.0, 0.0])}
  np.testing.assert_array_equal(pruning.union(a, b)['l'], [1, 1, 1, 0])
  np.testing.assert_array_equal(pruning.intersection(a, b)['l'], [1, 0, 0, 0])


def test_random_masks_keep_per_layer_counts():
  masks = {'a': (np.arange(100).reshape(10, 10) % 3 == 0).astype(np.float32),
           'b': np.ones((4, 5), np.float32)}
  random = pruning.random_masks_like(masks, np.random.default_rng(0))
  assert pruning.remaining_weights(random) == pruning.remaining_weights(masks)
  assert not np.array_equal(random['a'], masks['a'])


def test_one_shot_rates_reach_target_with_iterative_proportions():
  rates = {'hidden': 0.2, 'output': 0.1}
  sizes = {'hidden': 10000, 'output': 100}
  one_shot = pruning.one_shot_rates(rates, sizes, 40.0)
  kept = sum(sizes[k] * (1 - one_shot[k]) for k in sizes)
  assert kept == pytest.approx(0.4 * 10100)
  rounds = np.log(1 - one_shot['hidden']) / np.log(0.8)
  assert np.log(1 - one_shot['output']) / np.log(0.9) == pytest.approx(rounds)
  assert pruning.one_shot_rates(rates, sizes, 100.0) == {'hidden': 0.0, 'output': 0.0}


def test_percent_remaining():
  per_layer, overall = pruning.percent_remaining(
      {'a': np.array([1.0, 0.0]), 'b': np.array([1.0, 1.0, 1.0, 0.0])})
  assert per_layer == {'a': 50.0, 'b': 75.0}
  assert overall == pytest.approx(400 / 6)


def test_global_pruning_pools_the_covered_layers_and_leaves_the_others():
  masks = {'a': np.ones((2, 3), np.float32), 'b': np.array([1.0, 1.0, 0.0, 1.0, 1.0]),
           'out': np.ones(3, np.float32)}
  weights = {'a/kernel': np.array([[1.0, 5.0, 3.0], [2.0, 2.0, 9.0]]),
             'b/kernel': np.array([2.0, 0.5, 0.0, 7.0, 8.0]),
             'out/kernel': np.array([0.01, 0.02, 0.03])}
  pruned = pruning.prune_global(['a', 'b'], 0.5, masks, weights)
  # 10 survivors, 5 removed: 0.5, 1, then the three 2.0s (a before b, then by position).
  np.testing.assert_array_equal(pruned['a'], [[0, 1, 1], [0, 0, 1]])
  np.testing.assert_array_equal(pruned['b'], [0, 0, 0, 1, 1])  # b[2] stays pruned
  np.testing.assert_array_equal(pruned['out'], masks['out'])  # not covered: untouched
  again = pruning.prune_global(['a', 'b'], 0.2, pruned, weights)
  assert sum(pruning.remaining_weights(again)[n] for n in 'ab') == 5 - 1  # round(0.2 x 5)


def test_global_one_shot_reaches_the_overall_target():
  masks = {'a': np.ones(60, np.float32), 'b': np.ones(30, np.float32),
           'out': np.ones(10, np.float32)}
  weights = {k + '/kernel': np.random.default_rng(1).normal(size=m.size) for k, m in masks.items()}
  pruned = pruning.global_one_shot(['a', 'b'], masks, weights, 40.0)
  assert sum(pruning.remaining_weights(pruned).values()) == 40 and pruned['out'].all()
  with pytest.raises(errors.UserInputError, match='unreachable'):
    pruning.global_one_shot(['a', 'b'], masks, weights, 9.0)


# w0 signs + - + - +, wT signs + + - - +: weights 1 and 2 flipped sign during training.
W0 = np.array([[1.0, -0.4, 0.1, -0.2, 0.3]])
WT = np.array([[0.6, 0.1, -0.9, -0.25, 0.05]])


@pytest.mark.parametrize('criterion, rate, kept', [
    ('magnitude', 0.4, [1, 0, 1, 1, 0]),  # |wT| .6 .1 .9 .25 .05
    ('large_init', 0.4, [1, 1, 0, 0, 1]),  # |w0| 1 .4 .1 .2 .3
    ('magnitude_increase', 0.4, [0, 0, 1, 1, 1]),  # |wT|-|w0| -.4 -.3 .8 .05 -.25
    ('movement', 0.4, [1, 1, 1, 0, 0]),  # |wT-w0| .4 .5 1 .05 .25
    ('large_final_same_sign', 0.4, [1, 0, 0, 1, 1]),  # both flipped go first
    ('large_final_same_sign', 0.2, [1, 0, 1, 1, 1]),  # the smaller flipped |wT| first
])
def test_mask_criteria_rank_by_their_scores(criterion, rate, kept):
  scores = mask_criteria.scores(criterion, ['a'], {'a/kernel': W0}, {'a/kernel': WT})
  new = pruning.prune_by_percent({'a': rate}, {'a': np.ones_like(WT)}, scores)
  np.testing.assert_array_equal(new['a'], [kept])


def test_same_sign_criterion_ranks_flipped_weights_below_every_kept_sign():
  w0 = np.array([1.0, 1.0, -1.0, 1.0])
  wT = np.array([0.0, 5.0, 0.5, 1e-3])  # a zero final weight is not a sign flip
  scores = mask_criteria.layer_scores('large_final_same_sign', w0, wT)
  assert list(np.argsort(scores, kind='stable')) == [2, 0, 3, 1]


def test_criterion_ties_broken_by_position_and_global_pools_layers():
  w0 = {'a/kernel': np.full(4, 0.5), 'b/kernel': np.full(2, 0.5)}
  scores = mask_criteria.scores('large_init', ['a', 'b'], w0, w0)
  pruned = pruning.prune_global(['a', 'b'], 0.5, {'a': np.ones(4), 'b': np.ones(2)}, scores)
  np.testing.assert_array_equal(pruned['a'], [0, 0, 0, 1])
  np.testing.assert_array_equal(pruned['b'], [1, 1])


def test_random_criterion_keeps_exact_counts_and_follows_its_seed():
  final = {'a/kernel': np.ones((10, 10))}

  def prune(seed):
    scores = mask_criteria.scores('random', ['a'], None, final, np.random.default_rng(seed))
    return pruning.prune_by_percent({'a': 0.3}, {'a': np.ones((10, 10))}, scores)['a']

  assert prune(0).sum() == 70 and np.array_equal(prune(0), prune(0))
  assert not np.array_equal(prune(0), prune(1))


def _reinit(mode, original, masks, level=1):
  from lottery_ticket.protocols import controls as protocols  # pylint: disable=g-import-not-at-top (imports TF)
  config = types.SimpleNamespace(reinit_mode=mode, seed_for=lambda purpose: 7)
  return protocols.reinitialized_weights(types.SimpleNamespace(config=config), original, masks,
                                         level)


def test_signed_constant_reinit_is_sign_times_the_layers_std():
  kernel = np.array([[0.3, -0.1], [-0.5, 0.2]], np.float32)
  original = {'a/kernel': kernel, 'a/bias': np.array([0.1, 0.2], np.float32)}
  weights = _reinit('signed_constant', original, {'a': np.ones((2, 2))})
  std = np.float32(np.std(kernel))
  np.testing.assert_array_equal(weights['a/kernel'], [[std, -std], [-std, std]])
  np.testing.assert_array_equal(weights['a/bias'], original['a/bias'])


def test_reshuffle_reinit_permutes_survivors_among_survivor_positions():
  kernel = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
  mask = (np.arange(12).reshape(3, 4) % 3 != 0).astype(np.float32)
  weights = _reinit('reshuffle', {'a/kernel': kernel}, {'a': mask})['a/kernel']
  survivors = mask == 1
  np.testing.assert_array_equal(weights[~survivors], kernel[~survivors])
  np.testing.assert_array_equal(np.sort(weights[survivors]), kernel[survivors])
  assert not np.array_equal(weights, kernel)
  other_level = _reinit('reshuffle', {'a/kernel': kernel}, {'a': mask}, level=2)['a/kernel']
  assert not np.array_equal(other_level, weights)


def test_lowest_first_is_the_lexsort_order_as_a_set():
  rng = np.random.default_rng(0)
  for size, values in ((50, 3), (200, 1000), (64, 2)):
    scores = rng.integers(0, values, size).astype(np.float64)
    scores[rng.integers(0, size, 3)] = np.nan
    for count in (0, 1, size // 3, size - 2, size):
      expected = set(np.lexsort((np.arange(size), scores))[:count].tolist())
      assert set(pruning.lowest_first(scores, count).tolist()) == expected
