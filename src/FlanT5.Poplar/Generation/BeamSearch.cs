namespace FlanT5.Poplar.Generation;

/// <summary>
/// transformers 5 beam search (<c>GenerationMixin._beam_search</c>, no sampling), step for step:
/// <list type="bullet">
/// <item>Running beams accumulate float32 log_softmax scores; at the start only beam 0 is live (the others −1e9).</item>
/// <item>Each step takes the top 2·k candidates of a batch row over beams × vocab. Those ending in EOS, or reaching
/// max length, stop; the best k that did not stop run on.</item>
/// <item>A stopped candidate is finalised only if it ranks among the first k of the 2·k, scored
/// sum_logprobs / generated_len^length_penalty, where generated_len counts the new tokens including the EOS and
/// excluding the decoder start token (transformers: <c>cur_len + 1 - decoder_prompt_len</c>). The k best finalised
/// hypotheses per row are kept.</item>
/// <item>Stop when no row can improve (early-stopping heuristic), when every row holds k finalised hypotheses and
/// early stopping is <see cref="BeamEarlyStopping.WhenBeamsFull"/>, or when every candidate stopped (max length).</item>
/// <item>Output: each row's best hypothesis, cut to the longest generated length of the batch; positions after a
/// hypothesis ends hold <c>pad_token_id or eos_token_id</c> — EOS for T5, whose pad id is 0.</item>
/// </list>
/// Masks are the same float32 additions of −1e9 as in transformers, so ranking matches it exactly; ties rank the
/// lower index first.
/// </summary>
public static class BeamSearch
{
    private const float Masked = -1.0e9f;
    private const int PromptLength = 1; // the decoder start token

    public static GenerationResult Run(IIncrementalDecoder decoder, EncoderBatch inputs, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(options);
        int vocab = decoder.VocabSize;
        options.Validate(vocab);

        var state = new State(inputs.Batch, options, vocab);
        var expand = new int[inputs.Batch * options.NumBeams];
        for (int i = 0; i < expand.Length; i++)
            expand[i] = i / options.NumBeams;

        decoder.Begin(inputs.InputIds, inputs.AttentionMask, inputs.Batch, inputs.SrcLen, options.MaxNewTokens);
        try
        {
            decoder.Reorder(expand); // the encoder ran once per prompt; each beam gets its prompt's row
            while (state.Step(decoder))
                decoder.Reorder(state.BeamSources);
        }
        finally
        {
            decoder.End();
        }

        return state.Result();
    }

    /// <summary>The search state of all batch rows; flat arrays indexed [row * beams + beam].</summary>
    private sealed class State
    {
        private readonly int _batch, _beams, _candidates, _vocab, _maxLen, _fill;
        private readonly GenerationOptions _options;

        private int[] _runSeq, _nextRunSeq;      // [batch * beams, maxLen]
        private readonly float[] _runScore;       // [batch * beams] accumulated log-probabilities
        private readonly int[] _finSeq;           // [batch * beams, maxLen] finalised hypotheses
        private readonly int[] _nextFinSeq;       // [beams, maxLen] scratch for one batch row
        private readonly float[] _finScore;       // [batch * beams] length-normalised scores, best first
        private readonly int[] _finLen;           // generated tokens of each finalised hypothesis
        private readonly bool[] _finished;        // slot holds a real finalised hypothesis
        private readonly bool[] _improvable;      // [batch] the early-stop heuristic still allows improvement

        private readonly int[] _tokens;
        private readonly float[] _logits, _logProbs;
        private readonly int[] _candIndex, _candSeq, _keep, _merged;
        private readonly float[] _candScore, _runningScore, _keepScore, _finalScore, _mergedScore, _mergedTop;
        private readonly bool[] _hits;
        private readonly int[] _nextFinLen;
        private readonly bool[] _nextFinished;
        private int _cur = PromptLength;

        public State(int batch, GenerationOptions options, int vocab)
        {
            _options = options;
            _batch = batch;
            _beams = options.NumBeams;
            _candidates = 2 * _beams; // transformers: max(2, 1 + number of EOS ids) * num_beams
            _vocab = vocab;
            _maxLen = PromptLength + options.MaxNewTokens;
            // transformers fills with `pad_token_id or eos_token_id`: Python's `or` skips a pad id of 0.
            _fill = options.PadTokenId != 0 ? options.PadTokenId : options.EosTokenId;

            int rows = batch * _beams;
            _runSeq = new int[rows * _maxLen];
            Array.Fill(_runSeq, _fill);
            for (int r = 0; r < rows; r++)
                _runSeq[r * _maxLen] = options.DecoderStartTokenId;
            _nextRunSeq = new int[rows * _maxLen];
            _finSeq = (int[])_runSeq.Clone();
            _nextFinSeq = new int[_beams * _maxLen];
            _runScore = new float[rows];
            for (int r = 0; r < rows; r++)
                _runScore[r] = r % _beams == 0 ? 0f : Masked;
            _finScore = new float[rows];
            Array.Fill(_finScore, Masked);
            _finLen = new int[rows];
            _finished = new bool[rows];
            _improvable = new bool[batch];
            Array.Fill(_improvable, true);
            BeamSources = new int[rows];

            _tokens = new int[rows];
            _logits = new float[rows * vocab];
            _logProbs = new float[rows * vocab];
            _candIndex = new int[_candidates];
            _candScore = new float[_candidates];
            _candSeq = new int[_candidates * _maxLen];
            _hits = new bool[_candidates];
            _runningScore = new float[_candidates];
            _keep = new int[_beams];
            _keepScore = new float[_beams];
            _finalScore = new float[_candidates];
            _mergedScore = new float[_beams + _candidates];
            _merged = new int[_beams];
            _mergedTop = new float[_beams];
            _nextFinLen = new int[_beams];
            _nextFinished = new bool[_beams];
        }

        /// <summary>Cache row of every running beam for the next step (old row index per new row).</summary>
        public int[] BeamSources { get; }

        /// <summary>Runs one decode step over all rows; false when the search is over.</summary>
        public bool Step(IIncrementalDecoder decoder)
        {
            int rows = _batch * _beams;
            for (int r = 0; r < rows; r++)
                _tokens[r] = _runSeq[r * _maxLen + _cur - 1];
            decoder.Step(_tokens, _logits);
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<float> logits = _logits.AsSpan(r * _vocab, _vocab);
                Span<float> logProbs = _logProbs.AsSpan(r * _vocab, _vocab);
                ScoreMath.ThrowIfNaN(logits, r, _cur - PromptLength, "logits");
                ScoreMath.LogSoftmax(logits, logProbs);
                foreach (ILogitsProcessor processor in _options.LogitsProcessors)
                    processor.Process(_runSeq.AsSpan(r * _maxLen, _cur), logProbs);
                ScoreMath.ThrowIfNaN(logProbs, r, _cur - PromptLength, "log-probabilities");
                float beamScore = _runScore[r];
                for (int v = 0; v < _vocab; v++)
                    logProbs[v] += beamScore;
            }

            bool allHit = true;
            for (int b = 0; b < _batch; b++)
                allHit &= StepRow(b);
            (_runSeq, _nextRunSeq) = (_nextRunSeq, _runSeq);

            _cur++;
            bool anyImprovable = false, allFinished = true;
            for (int b = 0; b < _batch; b++)
            {
                UpdateImprovable(b);
                anyImprovable |= _improvable[b];
            }

            foreach (bool f in _finished)
                allFinished &= f;
            bool full = allFinished && _options.EarlyStopping == BeamEarlyStopping.WhenBeamsFull;
            return anyImprovable && !full && !allHit;
        }

        /// <summary>Candidate selection, next running beams and finalisation for batch row b; true when every
        /// candidate of the row stopped.</summary>
        private bool StepRow(int b)
        {
            int first = b * _beams;
            ScoreMath.TopK(_logProbs.AsSpan(first * _vocab, _beams * _vocab), _candIndex, _candScore);
            bool allHit = true;
            for (int c = 0; c < _candidates; c++)
            {
                int beam = _candIndex[c] / _vocab, token = _candIndex[c] % _vocab;
                Span<int> seq = _candSeq.AsSpan(c * _maxLen, _maxLen);
                _runSeq.AsSpan((first + beam) * _maxLen, _maxLen).CopyTo(seq);
                seq[_cur] = token;
                _hits[c] = token == _options.EosTokenId || _cur + 1 >= _maxLen;
                allHit &= _hits[c];
                _runningScore[c] = _hits[c] ? _candScore[c] + Masked : _candScore[c];
            }

            // The best beams that did not stop run on (stopped ones sink by −1e9).
            ScoreMath.TopK(_runningScore, _keep, _keepScore);
            for (int j = 0; j < _beams; j++)
            {
                int c = _keep[j];
                _candSeq.AsSpan(c * _maxLen, _maxLen).CopyTo(_nextRunSeq.AsSpan((first + j) * _maxLen, _maxLen));
                _runScore[first + j] = _keepScore[j];
                BeamSources[first + j] = first + _candIndex[c] / _vocab;
            }

            Finalise(b);
            return allHit;
        }

        private void Finalise(int b)
        {
            int first = b * _beams;
            int generated = _cur + 1 - PromptLength;
            float penalty = (float)Math.Pow(generated, _options.LengthPenalty);
            bool rowFull = _options.EarlyStopping == BeamEarlyStopping.WhenBeamsFull;
            for (int j = 0; j < _beams; j++)
                rowFull &= _finished[first + j];
            for (int c = 0; c < _candidates; c++)
            {
                bool justFinished = _hits[c] && c < _beams; // only the top num_beams candidates may finalise
                float score = _candScore[c] / penalty;
                if (rowFull)
                    score += Masked;
                if (!_improvable[b])
                    score += Masked;
                if (!justFinished)
                    score += Masked;
                _finalScore[c] = score;
            }

            // Merge the kept hypotheses with the new ones and keep the best num_beams.
            _finScore.AsSpan(first, _beams).CopyTo(_mergedScore);
            _finalScore.CopyTo(_mergedScore.AsSpan(_beams));
            ScoreMath.TopK(_mergedScore, _merged, _mergedTop);
            for (int j = 0; j < _beams; j++)
            {
                int m = _merged[j];
                Span<int> target = _nextFinSeq.AsSpan(j * _maxLen, _maxLen);
                if (m < _beams)
                {
                    _finSeq.AsSpan((first + m) * _maxLen, _maxLen).CopyTo(target);
                    _nextFinLen[j] = _finLen[first + m];
                    _nextFinished[j] = _finished[first + m];
                }
                else
                {
                    int c = m - _beams;
                    _candSeq.AsSpan(c * _maxLen, _maxLen).CopyTo(target);
                    _nextFinLen[j] = generated;
                    _nextFinished[j] = _hits[c] && c < _beams;
                }
            }

            _nextFinSeq.AsSpan(0, _beams * _maxLen).CopyTo(_finSeq.AsSpan(first * _maxLen, _beams * _maxLen));
            _mergedTop.CopyTo(_finScore.AsSpan(first, _beams));
            _nextFinLen.CopyTo(_finLen.AsSpan(first, _beams));
            _nextFinished.CopyTo(_finished.AsSpan(first, _beams));
        }

        /// <summary>transformers' early-stop heuristic: can the best running beam still beat the worst finalised one?</summary>
        private void UpdateImprovable(int b)
        {
            int first = b * _beams;
            bool atMaxLength = _options.EarlyStopping == BeamEarlyStopping.Never && _options.LengthPenalty > 0;
            int bestLength = (atMaxLength ? _maxLen : _cur) - PromptLength;
            float bestRunning = _runScore[first] / (float)Math.Pow(bestLength, _options.LengthPenalty);
            float worstFinished = float.PositiveInfinity;
            for (int j = 0; j < _beams; j++)
                worstFinished = Math.Min(worstFinished, _finScore[first + j]);
            bool canImprove = false;
            for (int j = 0; j < _beams; j++)
                canImprove |= bestRunning > (_finished[first + j] ? worstFinished : Masked);
            _improvable[b] &= canImprove;
        }

        public GenerationResult Result()
        {
            int longest = 0;
            for (int b = 0; b < _batch; b++)
                longest = Math.Max(longest, _finLen[b * _beams]);
            int length = PromptLength + longest;
            var sequences = new int[_batch][];
            var scores = new float[_batch];
            for (int b = 0; b < _batch; b++)
            {
                sequences[b] = _finSeq.AsSpan(b * _beams * _maxLen, length).ToArray();
                scores[b] = _finScore[b * _beams];
            }

            return new GenerationResult(sequences, scores);
        }
    }
}
