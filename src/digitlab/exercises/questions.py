"""The questions on the lesson, by section: why each step is there (in the spirit of fastbook chapter 4's
questionnaire, in our own words), and what this run measured.

A question on a measured figure names the lesson's variable that holds it; its answer is read from a
run, never written here. A question on ideas is answered in words, and checked by keywords: each
group must be met by one of its words (lower case, as substrings).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    section: int
    text: str
    answer: str = ""  # the model answer, in words (a figure's answer is the figure itself)
    keywords: tuple[tuple[str, ...], ...] = ()  # every group needs one of its words
    figure: str = ""  # the lesson's variable holding the measured answer
    form: str = ".4f"  # how the lesson prints that figure: the answer's rounding
    best_of: tuple[tuple[str, str], ...] = ()  # (name, figure): the answer is the name of the largest


def held_out(what: str) -> str:
    return f"What accuracy did {what} reach on the held-out images in your run (4 decimals)?"


TEN = "on all ten digits after 3 epochs"
QUESTIONS = (
    Question(1, "To a computer, what is a greyscale image such as an MNIST digit?",
             "a grid of numbers, one per pixel (28x28 here), each saying how bright it is",
             (("number", "value", "tensor", "array"),)),
    Question(1, "Why hold out some labelled images instead of training on all of them?",
             "to measure the model on images it never saw while training: the only honest sign of how it "
             "does on new ones", (("never", "unseen", "not seen", "new", "generali", "overfit", "honest"),)),
    Question(2, "What is a baseline, and why build one before any model that learns?",
             "a simple method, quick to build, whose score a real model must beat to be worth its cost",
             (("simple", "beat", "compare", "reference", "better than"),)),
    Question(2, "Why does the L1 distance take absolute values (and L2 squares) before averaging?",
             "otherwise positive and negative differences would cancel out",
             (("cancel", "negative", "sign", "positive"),)),
    Question(2, "What is broadcasting?",
             "PyTorch treating a smaller tensor as if it were copied to the larger one's shape, without "
             "copying anything", (("shape", "copied", "copies", "expand", "stretch", "smaller", "rank"),)),
    Question(2, held_out("the pixel-similarity baseline"), figure="baseline_accuracy"),
    Question(3, "Name the seven steps of training by gradient descent, in order.",
             "initialise the weights, predict, compute the loss, compute the gradients, step the weights, "
             "repeat from predict, stop", (("init",), ("predict",), ("loss",), ("gradient",), ("step",),
                                            ("repeat", "again", "loop"), ("stop",))),
    Question(3, "What does calling backward() on the loss do?",
             "it computes the gradient of the loss with respect to every tensor that requires one and "
             "stores it in that tensor's .grad", (("gradient", "derivative", "slope"),)),
    Question(3, "Why can accuracy not be the loss?",
             "its gradient is zero almost everywhere: a tiny change of a weight changes no prediction, so "
             "there is no slope to follow", (("zero", "flat", "no slope", "no gradient", "does not change",
                                             "doesn't change", "nothing changes"),)),
    Question(3, "What happens when the learning rate is too high?",
             "each step overshoots the minimum, further each time: the loss bounces or runs away",
             (("overshoot", "diverge", "bounce", "jump", "explode", "runs away", "run away", "unstable"),)),
    Question(3, "What is the bias for, in linear1?",
             "it lets the score be non-zero when every pixel is zero: without it a blank image always "
             "scores 0", (("zero", "blank", "shift", "offset", "intercept", "empty"),)),
    Question(3, "What does the sigmoid do, and why does mnist_loss use it?",
             "it squashes any number into 0..1, smoothly, so the distance to a target of 0 or 1 makes sense",
             (("0 and 1", "0..1", "0 to 1", "between", "squash", "probabilit"),)),
    Question(3, "What does requires_grad_() ask of PyTorch?",
             "to record every operation on that tensor, so backward() can compute its gradient",
             (("record", "track", "remember", "gradient"),)),
    Question(3, "What is the difference between a loss and a metric?",
             "the loss is what training optimises (it must be smooth); the metric is what people read (it "
             "must mean something)", (("optimi", "train", "gradient", "computer", "smooth"),
                                      ("people", "human", "read", "meaning", "understand", "us"))),
    Question(4, "Why must the gradients be zeroed after each step?",
             "backward() adds to .grad: without zeroing, every step would also carry all earlier gradients",
             (("add", "accumulat", "sum", "pile", "keep"),)),
    Question(4, "Why train on mini-batches rather than one image, or all images, per step?",
             "one image gives a noisy gradient, all of them a slow step; a batch is a steady gradient that "
             "still takes many steps per epoch (and uses the hardware in parallel)",
             (("noisy", "slow", "fast", "stable", "steady", "memory", "parallel", "gpu"),)),
    Question(4, "What is an epoch?", "one pass over every training image",
             (("pass", "every", "all", "whole", "once"),)),
    Question(4, held_out("linear1, trained by your own loop"), figure="scratch_accuracy"),
    Question(5, "What does an optimizer's step() do, and why does it run under torch.no_grad()?",
             "it moves each parameter against its gradient, times the learning rate; the update is not part "
             "of the model, so autograd must not record it", (("gradient", "learning rate", "lr"),
                                                               ("record", "track", "autograd", "graph"))),
    Question(5, "What does nn.Linear hold, and what does it compute?",
             "a weight matrix and a bias; it computes x @ weight.T + bias", (("weight",), ("bias",))),
    Question(5, "Given linear1's trained weights, how far (largest difference) is nn.Linear from linear1?",
             figure="linear_layer_gap", form=".1e"),
    Question(5, held_out("the Learner with nn.Linear(784, 1)"), figure="learner_linear_accuracy"),
    Question(6, "Why put a non-linearity between two linear layers?",
             "two linear layers in a row are one linear layer; the non-linearity is what lets the net "
             "approximate other functions", (("linear", "one layer", "single", "collapse", "fold"),)),
    Question(6, "What does a ReLU do to a number?", "it replaces a negative number by 0, keeps the rest",
             (("negative",), ("zero", "0"))),
    Question(6, "What is the difference between F.relu and nn.ReLU?",
             "F.relu is a function you call; nn.ReLU is a module (a layer) that calls it, so it can sit in "
             "nn.Sequential", (("module", "layer", "class", "object", "sequential"),)),
    Question(6, held_out("simple_net (784-30-1 with ReLU)"), figure="net_accuracy"),
    Question(7, "What does a hidden unit's 784 weights, drawn as a 28x28 image, show?",
             "which pixels push that unit's output up (where ink there speaks for it) and which push it down",
             (("pixel", "ink", "push", "feature", "look"),)),
    Question(8, "What does softmax do to ten activations?",
             "makes them ten positive numbers that sum to 1, the largest staying the largest",
             (("sum", "add up", "probabilit"),)),
    Question(8, "What is cross-entropy, for one image?", "minus the log of the probability given to the "
             "right digit", (("log",), ("probabilit", "right", "correct", "target", "true"))),
    Question(8, "Why does accuracy measured on the training images flatter the model?",
             "the model has seen those very images and partly remembers them; only unseen images tell how it "
             "does on new ones", (("seen", "memor", "remember", "overfit", "trained on", "leak"),)),
    Question(8, "Why keep a test set apart even from the validation set?",
             "choices were tuned while watching the validation set, so it flatters too; a test set nothing "
             "was chosen on is the fair check", (("tun", "chose", "choice", "never", "untouched", "bias"),)),
    Question(8, "What accuracy did mnist_net reach on the images it trained on?",
             figure="ten_train_accuracy"),
    Question(8, held_out("mnist_net after fine_tune"), figure="ten_valid_accuracy"),
    Question(8, "What accuracy did mnist_net reach on the official MNIST test set?",
             figure="ten_test_accuracy"),
    Question(8, held_out(f"one Linear layer {TEN}"), figure="linear_accuracy"),
    Question(8, held_out(f"two Linear layers without a ReLU {TEN}"), figure="no_relu_accuracy"),
    Question(8, held_out(f"784-30-10 with a ReLU {TEN}"), figure="relu_accuracy"),
    Question(8, "Folded into one Linear, how far (largest difference) is the two-layer net without ReLU?",
             figure="fold_gap", form=".1e"),
    Question(9, "Why go deeper than one hidden layer, when one is enough in theory?",
             "in practice a deeper net reaches the same accuracy with fewer parameters, or a better one "
             "with the same training", (("fewer", "better", "faster", "easier", "less", "accura"),)),
    Question(9, "What does a convolution share that a linear layer does not?",
             "the same few weights for every patch of the image, wherever the patch lies",
             (("same", "share", "patch", "anywhere", "position", "neighbo"),)),
    Question(9, held_out("the 784-128-64-10 net"), figure="deeper_accuracy"),
    Question(9, held_out("the CNN after one epoch"), figure="cnn_accuracy"),
    Question(9, "Of the ten-digit models trained 3 epochs or less (one Linear, 784-30-10 with ReLU, "
             "784-128-64-10, the CNN), which did best on held-out images?",
             best_of=(("one linear", "linear_accuracy"), ("784-30-10", "relu_accuracy"),
                      ("784-128-64-10", "deeper_accuracy"), ("cnn", "cnn_accuracy"))),
)  # fmt: skip
