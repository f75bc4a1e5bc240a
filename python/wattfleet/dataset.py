"""A wattfleet dataset from Python: tables as DataFrames, fits and predictions.

Every number comes from the C++ core through the same functions the ``wattfleet`` commands
call; nothing here computes an estimate of its own.
"""

import json
import os
import tempfile

from . import _requires, _wattfleet


def _columns(columns):
    """A frame from the core's typed columns, {name: [value, ...]}, in their order."""
    pd = _requires.module("pandas", "python3-pandas")
    return pd.DataFrame(columns, columns=list(columns))


def _frame(records, columns=None):
    # Imported on use, so that `import wattfleet` works without pandas.
    pd = _requires.module("pandas", "python3-pandas")

    return pd.DataFrame.from_records(records, columns=columns)


class Prediction:
    """The energy and time of one iteration of an architecture: an estimate.

    Attributes mirror ``wattfleet predict --json`` (docs/design/cli.md): ``energy_j``,
    ``energy_j_std`` (None when the method states no uncertainty), ``energy_j_interval``
    (an interval at ``energy_j_interval_level``, 0.9 unless few whole models were measured,
    or None), the same for ``time_s``, ``reach`` (how far beyond the work measured the
    estimate goes; 1 within the data), ``estimator``, ``batch``, ``notes`` (most important
    first) and the rest. ``layers`` is a DataFrame with one row per layer (``energy_j`` and
    ``time_s`` are NaN where the estimator does not attribute its estimate to layers).
    ``source`` is ``"estimate"``, or ``"measured"`` when ``prefer_measured`` found the
    dataset's own measurement of this architecture.
    """

    def __init__(self, document):
        self._doc = document

    def __getattr__(self, name):
        try:
            return self._doc[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def layers(self):
        return _frame(self._doc["layers"])

    def as_dict(self):
        """The whole document, as ``wattfleet predict --json`` prints it."""
        return json.loads(json.dumps(self._doc))

    def __repr__(self):
        std = self._doc.get("energy_j_std")
        spread = f" ± {std:.3g}" if std is not None else ""
        what = "estimate" if self._doc.get("source") == "estimate" else "measured"
        return (
            f"<wattfleet.Prediction {self._doc['architecture']} on {self._doc['device']}, "
            f"batch {self._doc['batch']}: {self._doc['energy_j']:.4g}{spread} J, "
            f"{self._doc['time_s']:.4g} s per iteration ({what}, {self._doc['estimator']})>"
        )


class Dataset:
    """A wattfleet dataset: an SQLite file or a ``postgresql://`` URI.

    Reading never creates anything: a path that is not a dataset raises ValueError naming it
    (a dataset of an older schema is upgraded in place, as every command upgrades it). ``fit`` and ``predict`` store the models they fit in the dataset's
    models table when it is writable, as the commands do.
    """

    def __init__(self, path_or_uri):
        self.db = os.fspath(path_or_uri)
        _backend, local = _wattfleet.dataset_backend(self.db)
        if local and not os.path.exists(self.db):
            raise ValueError(f"{self.db}: no such dataset")

    def __repr__(self):
        return f"wattfleet.Dataset({self.db!r})"

    def measurements(self, campaign=None):
        """One row per measurement, the columns of ``wattfleet export`` (docs/dataset.md)."""
        # A campaign by id or by name, as `wattfleet export --campaign` takes it.
        return _columns(
            _wattfleet.export_columns(self.db, None if campaign is None else str(campaign))
        )

    def layers(self):
        """The distinct layers: key, type and features per input sample."""
        return _columns(_wattfleet.layers(self.db))

    def architectures(self):
        """Every architecture of every campaign, features per input sample."""
        return _columns(_wattfleet.architectures(self.db))

    def fit(self, estimators=None, device=None, target="both", split="both", folds=5,
            holdout_campaigns=(), include_flagged=False):
        """Fits and scores estimators on held-out architectures, as ``wattfleet fit``.

        Returns the ``--json`` document: ``results`` (one per device, mode, target, split and
        estimator: median_ape, mape, p90_ape, r2, n, interval, points), ``models`` (the fits
        stored for predict), ``flagged_left_out``.
        """
        if isinstance(estimators, str):
            estimators = [estimators]
        doc = _wattfleet.fit(self.db, device, list(estimators or []), target, split, folds,
                             list(holdout_campaigns), include_flagged)
        return json.loads(doc)

    def publish(self, out, license, title, creators=(), description="", url="", date="",
                campaigns=()):
        """Writes the dataset (or the ``campaigns`` named, ids or names) as a package in the new
        folder ``out``, as ``wattfleet publish``: its tables as CSV and JSON Lines,
        ``croissant.json``, ``datapackage.json``, a datasheet, ``provenance.json`` and
        ``SHA256SUMS`` (docs/dataset.md, "Publishing"). ``license`` is an SPDX identifier;
        ``date`` (YYYY-MM-DD, default today) is the one thing two publications of the same
        data differ in. Returns ``{"out", "rows", "files"}``; ValueError for bad options or
        an ``out`` that holds anything (nothing is written)."""
        if isinstance(creators, str):
            creators = [creators]
        doc = _wattfleet.publish(self.db, os.fspath(out), license, title, list(creators),
                                 description, url, date, [str(c) for c in campaigns])
        return json.loads(doc)

    def predict(self, arch=None, device=None, batch=None, mode="inference",
                estimator="measured-layers", campaign_file="", torchscript="", onnx="",
                input_shape=(), prefer_measured=False, include_flagged=False,
                optimizer=None, loss=None, samples=None, epochs=None):
        """Energy and time of one iteration of ``arch`` (a zoo name, or a name in
        ``campaign_file``), of a ``torchscript`` file traced at ``input_shape`` (batch
        first), or of an ``onnx`` file (``input_shape`` where it leaves a dimension free), on
        ``device`` (a device class of this dataset). An estimate: see
        ``Prediction``. ``include_flagged`` trains on measurements with quality flags too,
        as ``fit(include_flagged=True)`` does. In ``mode="training"`` one iteration is a
        training step with ``optimizer`` (``"sgd"``, ``"sgd-momentum"``, ``"adam"``,
        ``"adamw"``; default sgd) and ``loss`` (``"cross-entropy"`` or ``"mse"``), and
        ``samples`` (with ``epochs``, default 1) adds ``run``: the energy and time of the
        whole training run."""
        if device is None:
            raise ValueError("device: a device class of the dataset is required")
        doc = _wattfleet.predict(self.db, device, arch or "", campaign_file,
                                 os.fspath(torchscript) if torchscript else "",
                                 os.fspath(onnx) if onnx else "",
                                 [int(x) for x in input_shape], batch, mode, estimator,
                                 prefer_measured, include_flagged, optimizer, loss, samples,
                                 epochs)
        return Prediction(json.loads(doc))


def import_package(db, package):
    """Loads a package ``Dataset.publish`` (or ``wattfleet publish``) wrote into the dataset
    ``db`` (an SQLite file, created when missing, or a ``postgresql://`` URI), as ``wattfleet
    import --package``: every file checked against ``SHA256SUMS`` first (ValueError, nothing
    stored, for a changed one), ids kept when free, a taken device name prefixed with the
    package's name, nothing stored a second time. Returns the ``--json`` document."""
    return json.loads(_wattfleet.import_package(os.fspath(db), os.fspath(package)))


def inspect(arch=None, campaign_file="", torchscript="", onnx="", input_shape=()):
    """An architecture's layers and totals, as ``wattfleet inspect --json``: a dict with
    name, family, macs, flops, params, layers (list of dicts) and unsupported operators.
    The architecture is a zoo name (or one in ``campaign_file``), a ``torchscript`` file or
    an ``onnx`` file."""
    doc = _wattfleet.inspect(arch or "", campaign_file,
                             os.fspath(torchscript) if torchscript else "",
                             os.fspath(onnx) if onnx else "",
                             [int(x) for x in input_shape])
    return json.loads(doc)


def predict_torchscript(path, input_shape, dataset, device, **kwargs):
    """``Dataset(dataset).predict(torchscript=path, input_shape=input_shape, ...)``."""
    ds = dataset if isinstance(dataset, Dataset) else Dataset(dataset)
    return ds.predict(device=device, torchscript=path, input_shape=input_shape, **kwargs)


def predict_module(module, example_input, dataset, device, **kwargs):
    """Traces a ``torch.nn.Module`` with ``example_input`` (its batch first) and predicts it
    as ``predict_torchscript`` does. Needs PyTorch in this interpreter; the trace is
    written to a temporary file that is removed afterwards."""
    torch = _requires.module("torch", "python3-torch")

    # Traced in eval mode (dropout off, batch norm's running statistics), then put back as it
    # was: a module in the middle of its training stays in training mode.
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            traced = torch.jit.trace(module, example_input)
    finally:
        module.train(was_training)
    with tempfile.TemporaryDirectory(prefix="wattfleet-") as tmp:
        path = os.path.join(tmp, "module.pt")
        traced.save(path)
        return predict_torchscript(path, list(example_input.shape), dataset, device, **kwargs)
