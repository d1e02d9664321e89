"""Generation stage: grids, URIAL prompts, generators and the run over a grid."""
