"""One recorded run of an Experiment: claim, checkpoint, TensorBoard, progress, divergence and
the atomic commit of its directory; and the rewinding points pruned runs start from."""

import os

import pandas as pd

from foundations import checkpointing
from foundations import errors
from foundations import interrupts
from foundations import locking
from foundations import masked_layers
from foundations import model_state
from foundations import paths
from foundations import save_restore
from foundations import trainer as trainer_lib
from lottery_ticket import progress
from lottery_ticket import recorded_settings
from lottery_ticket import recording
from lottery_ticket import rewinding
from lottery_ticket.protocols import spec as spec_lib


class RecordedRuns:
  """Experiment's recording of runs (a base class: it uses the Experiment's config, model,
  trainer and data)."""

  def run_outputs(self, result, masks):
    """(masks, {file name: arrays}) a finished run records beyond the trainer's result.

    A binarized run: final.npz holds the kernels it computes with, final_latent.npz the latent
    weights (result.final_weights, which pruning ranks). A supermask run: masks.npz is the
    learned mask, final.npz the effective kernels, scores.npz the scores.
    """
    if self.config.protocol_spec.run_outputs:
      return spec_lib.resolve(self.config.protocol_spec.run_outputs)(self, result, masks)
    if not self.config.binarize:
      return masks, {}
    effective = dict(result.final_weights, **masked_layers.effective_kernels(self.model))
    return masks, {paths.FINAL_WEIGHTS: effective,
                   paths.FINAL_LATENT_WEIGHTS: result.final_weights}

  def claim_output_dir(self):
    """Before the first write: check --output_dir holds this experiment's settings and record
    them (experiment.json). Other processes may train other runs of the directory meanwhile:
    each run is claimed on its own (claim_run)."""
    if not self._settings_recorded:
      try:
        os.makedirs(self.config.output_dir, exist_ok=True)
      except OSError as e:
        raise errors.UserInputError(
            errors.os_error_message(e, 'output_dir', self.config.output_dir)) from None
      recorded_settings.check_settings(self.config)  # again: another process may have written it
      recorded_settings.record_settings(self.config)
      self._settings_recorded = True

  def claim_run(self, final_dir):
    """A locking.RunClaim on the run `final_dir` (raises locking.RunClaimed if a live process
    holds it). The settings are recorded (claim_output_dir) before the run's first write."""
    return locking.RunClaim(final_dir)

  def dense_weights_at(self, original, iteration):
    """The trial's dense network at `iteration`: θ0 for 0, else the saved (or recomputed) θk.

    If the dense run did not save θk (it ran with another --rewind_iteration, or an older
    version), θk is recomputed by training the dense network from θ0 for k iterations, which
    reproduces the dense run's state at k bit for bit (the data order is a function of the
    iteration; evaluations change no weights, so only the end is evaluated), and saved.
    """
    if iteration == 0:
      return original
    path = rewinding.point_path(self.config, iteration)
    if not os.path.isfile(path):
      self.claim_output_dir()
      print(f'[trial{self.config.trial}] computing the dense network at iteration '
            f'{iteration}', flush=True)
      result = self.trainer.train(original, self.full_masks(), iteration, self.batch_order(),
                                  eval_interval=iteration)
      save_restore.save_arrays(path, result.final_weights)
    return self.load_weights(path)

  def start_point(self, original):
    """(weights, iteration) that pruned runs of this trial start from: (θ0, 0) or (θk, k)."""
    k = self.config.rewind_iteration
    return self.dense_weights_at(original, k), k

  def run_details(self, *, protocol, start_iteration=0, **details):
    """`details` plus the settings every run's summary.json records (the protocol under its
    on-disk key, 'experiment')."""
    config = self.config
    return dict(
        dict(experiment=protocol, **details), network=self.spec.name, dataset=config.dataset,
        dataset_source=self.dataset.source, trial=config.trial, seed=config.seed,
        training_iterations=config.training_iterations, batch_size=config.batch_size,
        learning_rate=config.learning_rate, eval_interval=config.eval_interval,
        dropout=config.dropout, optimizer=config.optimizer, momentum=config.momentum,
        weight_decay=config.weight_decay, lr_milestones=list(config.lr_milestones),
        lr_gamma=config.lr_gamma, lr_schedule=config.lr_schedule,
        warmup_iterations=config.warmup_iterations, binarize=config.binarize,
        augment=config.augment, pruning=config.pruning, start_iteration=start_iteration,
        mask_criterion=config.mask_criterion,
        rewind_iteration=config.rewind_iteration, precision=config.precision,
        mixed_precision=config.precision == 'mixed_float16',  # what summaries recorded before
        report_iterations=list(config.report_iterations))

  @interrupts.deferred()
  def train_recorded_run(self, final_dir, masks, initial_weights, label, *, protocol,
                         start_iteration=0, capture=None, batch_order=None,
                         augment_seed=None, extra_files=None, tracker=None, stop_when=None,
                         mask_updater=None, **details):
    """Trains one run from `initial_weights` under `masks`, records it in `final_dir`.

    The run is claimed first (locking.RunClaim: raises locking.RunClaimed if a live process is
    training it); if another process finished it meanwhile, its recorded result is returned.
    Continues from the run's checkpoint if an interrupted attempt left one. A diverged run is
    recorded (summary status 'diverged', no final weights) and raises TrainingDivergedError.
    A stop request (Ctrl-C, SIGTERM) saves a checkpoint after the current chunk of iterations,
    or lets a finished run be recorded, and raises interrupts.Interrupted saying where.
    `protocol` is the catalog name summary.json records (as 'experiment'); `start_iteration`,
    `capture` and `augment_seed` are Trainer.train's; `batch_order` defaults to the trial's;
    `extra_files` ({file name: arrays}, e.g. scores.npz) are committed with the run;
    `tracker`, `stop_when` and `mask_updater` are Trainer.train's (tracker default: a dense
    run's early_bird_tracker); with a mask updater, masks.npz is the final mask and
    mask_updates.csv its history.

    Returns:
      (summary dict, TrainingResult).
    """
    claim = self.claim_run(final_dir)
    try:
      if paths.is_complete(final_dir):  # finished by another process meanwhile
        return recorded_run(final_dir)
      loop = dict(capture=capture, augment_seed=augment_seed, stop_when=stop_when,
                  mask_updater=mask_updater,
                  tracker=tracker or self.early_bird_tracker(masks, initial_weights),
                  batch_order=batch_order or self.batch_order())
      return self._train_claimed(final_dir, masks, initial_weights, label, start_iteration,
                                 loop, extra_files, dict(protocol=protocol, **details))
    finally:
      claim.release()

  def _train_claimed(self, final_dir, masks, initial_weights, label, start_iteration, loop,
                     extra_files, details):
    config = self.config
    partial = paths.partial_dir(final_dir)
    checkpointer = checkpointing.Checkpointer(
        os.path.join(partial, paths.CHECKPOINT), config.checkpoint_interval)
    resume = checkpointer.load() if os.path.isdir(partial) else None
    if resume is not None:
      self.trainer.check_state(resume, checkpointer.path)  # before anything is written
    self.claim_output_dir()
    if resume is None:
      paths.start(final_dir)
    else:
      print(f'[{label}] resuming from the checkpoint at iteration {resume.iteration}', flush=True)
    tensorboard = recording.TensorBoardWriter(os.path.join(partial, paths.TENSORBOARD))
    report = progress.Progress(label, config.training_iterations, config.progress_seconds)

    def on_eval(row, elapsed_seconds):
      tensorboard(row, elapsed_seconds)
      report(row, elapsed_seconds)

    details = self.run_details(start_iteration=start_iteration, **details)
    try:
      result = self.trainer.train(
          initial_weights, masks, config.training_iterations, loop.pop('batch_order'),
          config.eval_interval, on_eval, resume=resume, checkpoint=checkpointer,
          start_iteration=start_iteration, eval_iterations=config.report_iterations, **loop)
    except errors.TrainingDivergedError as e:
      tensorboard.close()  # before the directory is renamed
      recording.write_diverged_run(partial, masks, e, details)
      paths.commit(partial, final_dir)
      raise errors.TrainingDivergedError(f'{label}: {e} (recorded in {final_dir})') from None
    except interrupts.Interrupted as e:
      raise interrupts.Interrupted(
          e.signal_number, f'[{label}] interrupted by {e.signal_name} at iteration '
          f'{e.iteration}/{config.training_iterations}; checkpoint saved') from None
    finally:
      tensorboard.close()
    masks, arrays = self.run_outputs(result, masks)
    arrays = dict(extra_files or {}, **arrays)
    updater = loop['mask_updater']
    if updater is not None:  # the masks moved during training
      masks = model_state.get_masks(self.model)
      arrays[paths.MASK_UPDATES] = updater.history()
    summary = recording.summarize(result, masks, details)
    recording.write_run(partial, result, masks, summary, arrays)
    paths.commit(partial, final_dir)
    self.trained_runs += 1
    progress.print_done(label, summary)
    interrupts.raise_if_requested(f'[{label}] interrupted by {{signal}} as it finished; run saved')
    return summary, result


def recorded_run(final_dir):
  """(summary, TrainingResult) of a run recorded in `final_dir` (final_weights: what pruning
  ranks, a binarized run's latent weights); raises TrainingDivergedError for a diverged one."""
  summary = recording.recorded_summary(final_dir)
  print(f'{final_dir}: completed by another process, not retrained', flush=True)
  result = trainer_lib.TrainingResult(
      initial_weights=save_restore.load_arrays(os.path.join(final_dir, paths.INITIAL_WEIGHTS)),
      final_weights=save_restore.load_arrays(recording.final_weights_path(final_dir)),
      history=pd.read_csv(os.path.join(final_dir, paths.METRICS)),
      wall_seconds=summary.get('wall_seconds', 0.0),
      steps_per_second=summary.get('steps_per_second', 0.0))
  return summary, result
