namespace FlanT5.Poplar.Placement;

/// <summary>
/// The hardware a plan is sized for: a number of identical IPUs and the numbers the memory and cost models use.
/// Defaults are the IPU Mk2 GC200 in IPU-M2000 machines; every number can be overridden with <c>with { }</c>
/// (tests use tiny memories). Sources:
/// - GC200 / IPU-M2000 datasheet: 1,472 tiles, 900 MB In-Processor-Memory, 250 TFLOPS fp16, 62.5 TFLOPS fp32,
///   10 IPU-Links totalling 320 GB/s, PCIe Gen4 x16 64 GB/s, IPU-M2000 = 4 IPUs with 128 GB streaming memory.
/// - Poplar Target::getBytesPerTile() on GC200: 638,976 bytes (624 KiB) per tile.
/// - Clock: 250e12 / (1472 tiles × 128 fp16 FLOP per tile-cycle) ≈ 1.33 GHz.
/// - Bow IPU / Bow-2000 datasheet: same tiles and memory, 1.85 GHz, 350 TFLOPS fp16, 87.5 TFLOPS fp32.
/// - In-Processor-Memory bandwidth: 47.5 TB/s per GC200 (IPU-M2000 datasheet). Bow: 65 TB/s, the figure quoted for
///   the Bow-2000 (260 TB/s over 4 IPUs) but not found in the stored datasheet pages; it agrees with 47.5 TB/s scaled
///   by the clock (1.85 / 1.33 GHz ≈ 66 TB/s), as SRAM bandwidth per tile-cycle is unchanged.
/// - Sync: the model used in poplibs tests, 15 ns per hop, hops = 1 + IPUs / 4.
/// The same defaults as native/src/ipu/ipu_arch.h (streaming: 128 GiB per IPU-M2000 → 32 GiB per IPU).
/// </summary>
public sealed record IpuTarget
{
    public string Name { get; init; } = "IPU Mk2 GC200";
    public int IpuCount { get; init; } = 1;
    public int TilesPerIpu { get; init; } = 1472;
    public long BytesPerTile { get; init; } = 638_976;
    public double ClockHz { get; init; } = 1.33e9;

    /// <summary>Peak dense matmul rate per IPU, FLOP/s (fp16 inputs).</summary>
    public double Fp16FlopsPerSecond { get; init; } = 250e12;

    /// <summary>Peak dense matmul rate per IPU, FLOP/s (fp32).</summary>
    public double Fp32FlopsPerSecond { get; init; } = 62.5e12;

    /// <summary>Tile memory read bandwidth of one IPU (all tiles together), bytes/s.</summary>
    public double TileMemoryBytesPerSecond { get; init; } = 47.5e12;

    /// <summary>IPU-Link bandwidth of one chip (all 10 links together), bytes/s.</summary>
    public double IpuLinkBytesPerSecond { get; init; } = 320e9;

    /// <summary>
    /// On-chip exchange of one IPU, bytes/s: each tile sends 4 bytes a cycle (the emulated SDK's IPU model, as
    /// Poplar's IPUModel: exchangeBytesPerCycle 4), 1472 × 4 × 1.33 GHz ≈ 7.8 TB/s (Graphcore quotes about 8 TB/s
    /// all-to-all for the GC200).
    /// </summary>
    public double ExchangeBytesPerSecond => TilesPerIpu * ExchangeBytesPerTileCycle * ClockHz;

    public double ExchangeBytesPerTileCycle { get; init; } = 4;

    /// <summary>Host link of one IPU (PCIe Gen4 x16), bytes/s.</summary>
    public double PcieBytesPerSecond { get; init; } = 64e9;

    /// <summary>
    /// Streaming memory ↔ IPU bandwidth, bytes/s. Streaming memory sits behind the IPU's PCIe Gen4 x16 link to the
    /// IPU-M2000 gateway, so the default is the PCIe figure; no separate number is published.
    /// </summary>
    public double StreamingBytesPerSecond { get; init; } = 64e9;

    /// <summary>Streaming memory per IPU: 128 GiB per IPU-M2000 shared by its 4 IPUs.</summary>
    public long StreamingBytesPerIpu { get; init; } = 32L << 30;

    public int IpusPerMachine { get; init; } = 4;

    /// <summary>
    /// IPUs joined by IPU-Links into one domain: an IPU-POD64's 16 IPU-M2000s form one 2D IPU-Link torus (IPU-POD64
    /// datasheet, "2D-torus IPU-Link topology"; poprun on a POD64 reports ipuLinkDomainSize 64). Larger systems
    /// (IPU-POD128 = two POD64 racks, POD256 = four) join such domains with GW-Links (IPU-POD128 datasheet: "two
    /// IPU-POD64 logical racks with optical GW-Link cables cross connected between them"). Lower it to model smaller
    /// domains joined by GW-Links (what poprun's --num-ilds sets up).
    /// </summary>
    public int IpusPerLinkDomain { get; init; } = 64;

    /// <summary>
    /// GW-Link bandwidth per IPU, bytes/s, between IPU-Link domains: each IPU-M2000 has 2 × 100 Gbps GW-Links
    /// (IPU-POD DA build guide glossary: "GW-Link: high speed (100 GbE) communication links that connect IPU-M2000s
    /// horizontally across IPU-POD64 racks"; Bow-2000 datasheet: "GW-Link - 2x 100Gbps Gateway-Links for communication
    /// between Bow Pods"), shared by its 4 IPUs: 2 × 100e9 / 8 / 4 = 6.25 GB/s. Against 320 GB/s of IPU-Links per IPU.
    /// </summary>
    public double GwLinkBytesPerSecond { get; init; } = 2 * 100e9 / 8 / 4;
    public double SyncSecondsPerHop { get; init; } = 15e-9;

    /// <summary>Tile memory of one IPU: 1472 × 638,976 = 940,572,672 bytes (the "900 MB").</summary>
    public long OnChipBytesPerIpu => TilesPerIpu * BytesPerTile;

    public double PeakFlopsPerSecond(NumericPrecision precision) =>
        precision == NumericPrecision.Fp16 ? Fp16FlopsPerSecond : Fp32FlopsPerSecond;

    /// <summary>One global sync across all IPUs: 15 ns × (1 + IPUs / 4).</summary>
    public double SyncSeconds => SyncSecondsPerHop * (1 + IpuCount / 4);

    /// <summary>IPU Mk2 GC200 (IPU-M2000 / IPU-POD systems).</summary>
    public static IpuTarget Mk2(int ipus) => new() { IpuCount = Positive(ipus) };

    /// <summary>Bow IPU (Bow-2000 / Bow Pod systems): 1.85 GHz, 350 TFLOPS fp16, 87.5 TFLOPS fp32, 65 TB/s tile memory.</summary>
    public static IpuTarget Bow(int ipus) => new()
    {
        Name = "Bow IPU",
        IpuCount = Positive(ipus),
        ClockHz = 1.85e9,
        Fp16FlopsPerSecond = 350e12,
        Fp32FlopsPerSecond = 87.5e12,
        TileMemoryBytesPerSecond = 65e12,
    };

    /// <summary>IPU-POD16: 4 × IPU-M2000.</summary>
    public static IpuTarget Pod16 => Mk2(16) with { Name = "IPU-POD16 (4 x IPU-M2000)" };

    /// <summary>IPU-POD64: 16 × IPU-M2000.</summary>
    public static IpuTarget Pod64 => Mk2(64) with { Name = "IPU-POD64 (16 x IPU-M2000)" };

    /// <summary>"mk2" or "bow" with <paramref name="ipus"/> IPUs.</summary>
    public static IpuTarget Parse(string kind, int ipus) => kind.Trim().ToLowerInvariant() switch
    {
        "mk2" or "gc200" or "ipu-pod" => Mk2(ipus),
        "bow" => Bow(ipus),
        _ => throw new ArgumentException($"target: '{kind}' is not a known IPU; expected mk2 or bow"),
    };

    private static int Positive(int ipus) =>
        ipus >= 1 ? ipus : throw new ArgumentOutOfRangeException(nameof(ipus), ipus, "expected at least one IPU");
}
