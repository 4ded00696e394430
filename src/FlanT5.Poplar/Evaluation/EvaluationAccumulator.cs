namespace FlanT5.Poplar.Evaluation;

/// <summary>Collects (gold, generated) pairs of one split and produces its <see cref="EvaluationResult"/>.</summary>
public sealed class EvaluationAccumulator(string split, LabelSet labels, int maxUnknownExamples = 10)
{
    private readonly int[,] _confusion = new int[labels.Count, labels.Count + 1];
    private readonly List<string> _unknownExamples = [];
    private readonly List<string> _predictions = [];

    public string Split { get; } = split;
    public LabelSet Labels { get; } = labels;
    public int Total { get; private set; }

    /// <summary>Adds one example by its generated text (post-processed by the label set); returns the predicted id.</summary>
    public int Add(int goldId, string generated)
    {
        var predicted = Labels.Classify(generated);
        if (predicted == LabelSet.UnknownId && _unknownExamples.Count < maxUnknownExamples) _unknownExamples.Add(generated);
        AddPrediction(goldId, predicted);
        return predicted;
    }

    /// <summary>Adds one example whose prediction is already an id (-1 = unknown).</summary>
    public void AddPrediction(int goldId, int predictedId)
    {
        if (goldId < 0 || goldId >= Labels.Count)
            throw new ArgumentOutOfRangeException(nameof(goldId), goldId, $"gold label id must be in [0, {Labels.Count}) ({string.Join(", ", Labels.Names)})");
        if (predictedId < LabelSet.UnknownId || predictedId >= Labels.Count)
            throw new ArgumentOutOfRangeException(nameof(predictedId), predictedId, $"predicted id must be -1 or in [0, {Labels.Count})");
        var column = predictedId == LabelSet.UnknownId ? Labels.Count : predictedId;
        _confusion[goldId, column]++;
        _predictions.Add(Labels.NameOf(predictedId));
        Total++;
    }

    public EvaluationResult Result()
    {
        var n = Labels.Count;
        var matrix = new List<IReadOnlyList<int>>();
        var perClass = new List<ClassCounts>();
        var correct = 0;
        var unknown = 0;
        for (var gold = 0; gold < n; gold++)
        {
            var row = new int[n + 1];
            for (var p = 0; p <= n; p++) row[p] = _confusion[gold, p];
            matrix.Add(row);
            correct += row[gold];
            unknown += row[n];
        }
        for (var label = 0; label < n; label++)
        {
            var goldCount = matrix[label].Sum();
            var predicted = Enumerable.Range(0, n).Sum(g => _confusion[g, label]);
            perClass.Add(new ClassCounts(Labels.Names[label], goldCount, predicted, _confusion[label, label]));
        }
        return new EvaluationResult(Split, Total, correct, unknown, Labels.Names.ToList(), perClass, matrix, _unknownExamples.ToList(),
            _predictions.ToList());
    }
}
