// Package predict classifies images with a trained resgo checkpoint: load
// it once with Load, then call Classify or ClassifyBatch from as many
// goroutines as you like.
//
// An image goes through the preprocessing its model was trained with.
// For a model of MNIST's shape (one channel, 28x28) that is MNIST's own
// recipe, so that a photo or a scan of a handwritten digit looks like the
// digits the model learned from (see Digit): grayscale, ink made light on
// a dark background, cropped to the ink, scaled into a 20x20 box in
// proportion and centred by its centre of mass in 28x28. Other models get
// the image resized to their input (see Resize).
package predict
