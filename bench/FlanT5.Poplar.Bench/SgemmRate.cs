using System.Diagnostics;
using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// OpenBLAS single-precision GEMM on this host with a given thread count: the ceiling the emulated engine's matmuls
/// run under (they call the same library), so a training step's GFLOP/s is read as a fraction of it.
/// </summary>
internal static partial class SgemmRate
{
    private const string OpenBlas = "libopenblas.so.0";
    private const int RowMajor = 101, NoTrans = 111;

    [LibraryImport(OpenBlas, EntryPoint = "openblas_set_num_threads")]
    private static partial void SetThreads(int threads);

    [LibraryImport(OpenBlas, EntryPoint = "cblas_sgemm")]
    private static partial void Sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
        float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc);

    /// <summary>Median GFLOP/s of 5 timed n×n×n products after one warm-up.</summary>
    public static double GflopsPerSecond(int threads, int n = 2048)
    {
        SetThreads(threads);
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        var random = new Random(1);
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)random.NextDouble() - 0.5f;
            b[i] = (float)random.NextDouble() - 0.5f;
        }
        var rates = new List<double>();
        for (int run = 0; run < 6; run++)
        {
            var watch = Stopwatch.StartNew();
            Sgemm(RowMajor, NoTrans, NoTrans, n, n, n, 1f, a, n, b, n, 0f, c, n);
            if (run > 0) rates.Add(2.0 * n * n * n / watch.Elapsed.TotalSeconds * 1e-9);
        }
        rates.Sort();
        return rates[rates.Count / 2];
    }
}
