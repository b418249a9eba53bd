package predict_test

import (
	"fmt"
	"log"

	"github.com/resgo/resgo/predict"
)

// Load a checkpoint once, then classify images (from any number of
// goroutines).
func Example() {
	c, err := predict.Load("../testdata/models/mnist_d8_model-2000.safetensors", predict.Options{})
	if err != nil {
		log.Fatal(err)
	}
	img, err := predict.DecodeFile("../testdata/digits/7-photo.jpg")
	if err != nil {
		log.Fatal(err)
	}
	preds, err := c.Classify(img)
	if err != nil {
		log.Fatal(err)
	}
	best := preds[0]
	fmt.Printf("digit %s (p > 0.9: %v)\n", best.Label, best.Probability > 0.9)
	// Output: digit 7 (p > 0.9: true)
}
