// Package optim updates parameters from their gradients: plain SGD,
// learning-rate schedules and the exponential moving average of weights
// that TensorFlow's tutorial models evaluate with.
package optim
