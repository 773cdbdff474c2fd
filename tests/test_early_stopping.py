import pandas as pd

from lottery_ticket import early_stopping


def test_minimum_validation_loss_earliest_on_ties():
  history = pd.DataFrame({'iteration': [100, 200, 300, 400],
                          'validation_loss': [0.5, 0.2, 0.3, 0.2],
                          'test_accuracy': [0.8, 0.9, 0.95, 0.97]})
  assert early_stopping.early_stop(history) == (200, 0.9)
