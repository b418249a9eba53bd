// Package train runs the training loop of the tutorial: mini-batch SGD with
// an exponentially decaying learning rate, an L2 penalty on the final
// weight and a moving average of every weight; a console line per step;
// atomic checkpoints that hold everything needed to resume exactly (weights,
// averages, the step and the configuration); and evaluation of a checkpoint.
package train
