"""The science on top of foundations: datasets, experiment protocols, analysis, runner machinery."""
