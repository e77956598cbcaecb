"""The code cells of the fast.ai MNIST-basics notes, in order, with their bugs fixed, under
`from digitlab.all import *`. Run by tests/test_notes_code.py with CSV set to a Kaggle train.csv.

Each fix is marked `# FIX:`. Everything else is the notes' code as written (pandas included).
"""

from digitlab.all import *  # brings pd too, as fastai's does

CSV = globals().get("CSV", "train.csv")

train_df = pd.read_csv(CSV)
valid_df = train_df.sample(axis=0, frac=0.2, random_state=1337)
train_df = train_df.drop(valid_df.index)

train_df = train_df.reset_index(drop=True)
valid_df = valid_df.reset_index(drop=True)


def digit_images(df, digit):  # FIX: the notes' row-by-row iloc loop, as one mask (same tensors)
    return tensor(df[df["label"] == digit].iloc[:, 1:].values).reshape(-1, 28, 28)


train_ones = digit_images(train_df, 1).float() / 255
train_zeros = digit_images(train_df, 0).float() / 255  # FIX: `troch` was a typo
valid_ones = digit_images(valid_df, 1).float() / 255  # FIX: the notes only say "repeat these steps"
valid_zeros = digit_images(valid_df, 0).float() / 255

mean1 = train_ones.mean(0)
mean0 = train_zeros.mean(0)

fig, ax = plt.subplots(nrows=1, ncols=2, figsize=(10, 5), sharey=True)
show_image(mean1, ax=ax[0], cmap="Oranges", figsize=(5, 5))  # FIX: orange_palette was never defined
show_image(mean0, ax=ax[1], cmap="Oranges", figsize=(5, 5))
plt.close("all")

a_1 = train_ones[0]
l1 = (a_1 - mean1).abs().mean(), (a_1 - mean0).abs().mean()
l2 = ((a_1 - mean1) ** 2).mean().sqrt(), ((a_1 - mean0) ** 2).mean().sqrt()
assert torch.allclose(F.l1_loss(a_1, mean1), l1[0]) and torch.allclose(F.mse_loss(a_1, mean1).sqrt(), l2[0])


def mnist_distance(a, b):
    return (a - b).abs().mean((-1, -2))


valid_ones_dist = mnist_distance(valid_ones, mean1)


def is_one(x):
    return mnist_distance(x, mean1) < mnist_distance(x, mean0)


accuracy_ones = is_one(valid_ones).float().mean()
accuracy_zeros = (1 - is_one(valid_zeros).float()).mean()


def prob_1(x, w):
    """Calculate the probability of the image being a one, given pixels and weights."""
    return (w * x).sum()


train_x = torch.cat([train_ones, train_zeros]).view(-1, 28 * 28)
train_y = tensor([1] * len(train_ones) + [0] * len(train_zeros)).unsqueeze(1)
dset = list(zip(train_x, train_y))
x, y = dset[0]
valid_x = torch.cat([valid_ones, valid_zeros]).view(-1, 28 * 28)
valid_y = tensor([1] * len(valid_ones) + [0] * len(valid_zeros)).unsqueeze(1)
valid_dset = list(zip(valid_x, valid_y))

torch.manual_seed(42)


def init_params(size, std=1.0):
    """Randomly intiialize parameters based on a standard deviation."""
    return (torch.randn(size) * std).requires_grad_()


weights = init_params((28 * 28, 1))
bias = init_params(1)


def linear1(xb):
    """Calculate the prediction for a set of images."""
    return xb @ weights + bias


preds = linear1(train_x)


def mnist_loss(predictions, targets):
    predictions = predictions.sigmoid()
    return torch.where(targets == 1, 1 - predictions, predictions).mean()


trgts = tensor([1, 0, 1])
preds = tensor([0.9, 0.4, 0.2])
loss = mnist_loss(preds, trgts)

weights = init_params((28 * 28, 1))
bias = init_params(1)
trgts = train_y[3]  # FIX: tensor(train_y[3]) only copied it (with a warning)
preds = linear1(train_x[3])
loss = mnist_loss(preds, trgts)
loss.backward()  # FIX: the notes read weights.grad without ever calling backward()
single_grad = weights.grad.shape, weights.grad.mean(), bias.grad

lr = 1e-5
weights.data -= lr * weights.grad.data
weights.grad = None  # FIX: clear it, or the next backward() adds to it

data = range(15)
dl = DataLoader(data, batch_size=5, shuffle=True)
fifteen = list(dl)

dl = DataLoader(dset, batch_size=256)
valid_dl = DataLoader(valid_dset, batch_size=256)


def calc_grad(xb, yb, model):
    preds = model(xb)
    loss = mnist_loss(preds, yb)
    loss.backward()  # FIX: missing in the notes, so no gradient ever existed


def train_epoch(model, lr, params):
    for xb, yb in dl:
        calc_grad(xb, yb, model)
        for p in params:
            p.data -= p.grad * lr
            p.grad.zero_()


def batch_accuracy(xb, yb):
    preds = xb.sigmoid()
    correct = (preds > 0.5) == yb
    return correct.float().mean()


def validate_epoch(model):
    accs = [batch_accuracy(model(xb), yb) for xb, yb in valid_dl]
    return round(torch.stack(accs).mean().item(), 4)


lr = 1.0
params = weights, bias
train_epoch(linear1, lr, params)
for i in range(5):
    train_epoch(linear1, lr, params)
    print(validate_epoch(linear1), end="\n")
scratch_accuracy = validate_epoch(linear1)

linear_model = nn.Linear(28 * 28, 1)
w, b = linear_model.parameters()
shapes = w.shape, b.shape

dls = DataLoaders(dl, valid_dl)  # FIX: the notes use dls here without building it
learn = Learner(dls, nn.Linear(28 * 28, 1), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
learn.fit(5, lr=lr)
learner_linear_accuracy = learn.recorder.values[-1][2]

w1 = init_params((28 * 28, 30))
b1 = init_params(30)
w2 = init_params((30, 1))
b2 = init_params(1)


def simple_net(xb):
    res = xb @ w1 + b1
    res = res.max(tensor(0.0))
    res = res @ w2 + b2  # FIX: the notes fed xb, not the hidden activations, to the second layer
    return res


raw_net_shape = simple_net(train_x[:4]).shape

simple_net = nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 1))  # FIX: the ReLU was missing
learn = Learner(dls, simple_net, opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
learn.fit(5, 0.1)
net_accuracy = learn.recorder.values[-1][2]

m = learn.model
w, b = m[0].parameters()
show_image(w[3].view(28, 28), figsize=(5, 5), cmap="bwr")  # FIX: full_palette was never defined
plt.close("all")

train_x = tensor(train_df.iloc[:, 1:]).float() / 255
train_y = tensor(train_df.iloc[:, 0])
valid_x = tensor(valid_df.iloc[:, 1:]).float() / 255
valid_y = tensor(valid_df.iloc[:, 0])

dset = list(zip(train_x, train_y))
valid_dset = list(zip(valid_x, valid_y))

dl = DataLoader(dset, batch_size=5, shuffle=True)
valid_dl = DataLoader(valid_dset, batch_size=5)  # FIX: the notes validated on dset, the training data
dls = DataLoaders(dl, valid_dl)

mnist_net = nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 10))  # FIX: the ReLU again
learn = Learner(dls, mnist_net, opt_func=SGD, loss_func=nn.CrossEntropyLoss(), metrics=accuracy)

x, y = dls.one_batch()
preds, _ = learn.get_preds(dl=[(x, y)])
sm_acts = torch.softmax(preds, dim=1)
sums = len(preds[0]), preds[0].sum(), len(sm_acts[0]), sm_acts[0].sum()

learn.fine_tune(10, 0.1)
ten_valid_accuracy = learn.recorder.values[-1][2]
