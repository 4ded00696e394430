# The one script for everything beyond `dotnet build`. Run through the pinned local tool:
#   dotnet tool restore && dotnet pwsh build.ps1 <target>
# Targets: bootstrap native bindings build pack test bench finetune ci. Stops at the first error.
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('bootstrap', 'native', 'bindings', 'build', 'pack', 'test', 'bench', 'finetune', 'ci')]
    [string]$Target = 'build',
    [ValidateSet('Release', 'Debug')]
    [string]$Configuration = 'Release',
    # bootstrap only: print the commands it would run instead of running them.
    [switch]$DryRun,
    # Extra arguments for `finetune` (passed to `flant5 finetune`) or `bench`.
    [Parameter(ValueFromRemainingArguments = $true)]
    [string[]]$Rest = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$NativeDir = Join-Path $Root "artifacts/native/$Configuration"
$AsanDir = Join-Path $Root 'artifacts/native/asan'
$Solution = Join-Path $Root 'FlanT5.Poplar.sln'
$PackageDir = Join-Path $Root 'artifacts/packages'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Invoke-Step([string]$What, [scriptblock]$Command) {
    Write-Host "==> $What" -ForegroundColor Cyan
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "build.ps1: '$What' failed with exit code $LASTEXITCODE" }
}

. (Join-Path $PSScriptRoot 'tools/build/Bootstrap.ps1')

function Invoke-Native([string]$Dir, [string[]]$Extra) {
    $buildType = if ($Configuration -eq 'Debug') { 'RelWithDebInfo' } else { 'Release' }
    Invoke-Step "cmake configure ($Dir)" { & cmake -S (Join-Path $Root 'native') -B $Dir "-DCMAKE_BUILD_TYPE=$buildType" -DFT5_BUILD_TESTS=ON @Extra | Out-Null }
    Invoke-Step "cmake build ($Dir)" { & cmake --build $Dir -j 2 }
}

function Invoke-Bindings {
    Invoke-Step 'generate bindings from ft5.h' {
        & dotnet run --project (Join-Path $Root 'tools/FlanT5.BindGen') -c $Configuration -- `
            --header (Join-Path $Root 'native/include/ft5/ft5.h') `
            --output (Join-Path $Root 'src/FlanT5.Poplar.Interop/Generated')
    }
}

function Invoke-Build {
    Invoke-Step 'dotnet build' { & dotnet build $Solution -c $Configuration -nologo -v q }
}

# The projects that set IsPackable (FlanT5.Poplar and the flant5 tool) as .nupkg/.snupkg, from the build just made.
function Invoke-Pack {
    Invoke-Step "dotnet pack -> $PackageDir" { & dotnet pack $Solution -c $Configuration --no-build -nologo -v q -o $PackageDir }
}

# Under ASan/UBSan each plan sweep runs the plans that cover the most code (tensor x pipeline x data parallel 2 x 2 x 2,
# and one IPU): the other plans run the same code on other sizes, and every plan runs in the normal build.
$AsanSkippedPlans = @(
    'Degrees/SessionPlacement\..*/t(1_p1_d2|1_p2_d1|1_p2_d2|2_p1_d1|2_p1_d2|2_p2_d1|4_p)',
    'Degrees/SessionPipelineSchedule\..*/t(1_p2_d1|2_p2_d1|1_p4_d1)',
    'Degrees/SessionPhasedExecution\..*/\((1, 1, 1|2, 1, 1)\)',
    'Plans/SessionWeightsOnly\..*/\((1, 1, 0|2, 2, 0)\)',
    'Degrees/SessionRecompute\..*/\((1, 1|2, 1)\)',
    'TensorParallel/SessionStreamingOptimizer\..*/1$'
) -join '|'

# Runs ctest (normal and ASan/UBSan builds) and the NUnit suite, then prints one line `N passed, N failed`.
function Invoke-Test {
    $passed = 0; $failed = 0
    $ok = $true
    foreach ($dir in @($NativeDir, $AsanDir)) {
        $skip = if ($dir -eq $AsanDir) { @('-E', $AsanSkippedPlans) } else { @() }
        $out = & ctest --test-dir $dir --output-on-failure -j 2 @skip 2>&1
        $code = $LASTEXITCODE
        $out | ForEach-Object { Write-Host $_ }
        $line = $out | Where-Object { $_ -match 'tests passed, (\d+) tests failed out of (\d+)' } | Select-Object -Last 1
        if ($line -and ($line -match 'tests passed, (\d+) tests failed out of (\d+)')) {
            $f = [int]$Matches[1]; $t = [int]$Matches[2]
            $passed += ($t - $f); $failed += $f
        } else { $ok = $false; Write-Host "ctest in $dir printed no summary" }
        if ($code -ne 0) { $ok = $false }
    }
    $testProject = Join-Path $Root 'tests/FlanT5.Poplar.Tests'
    $out = & dotnet test $testProject -c $Configuration --no-build -nologo 2>&1
    $code = $LASTEXITCODE
    $out | ForEach-Object { Write-Host $_ }
    $summary = $out | Where-Object { $_ -match 'Failed:\s+(\d+),\s+Passed:\s+(\d+)' } | Select-Object -Last 1
    if ($summary -and ($summary -match 'Failed:\s+(\d+),\s+Passed:\s+(\d+)')) {
        $failed += [int]$Matches[1]; $passed += [int]$Matches[2]
    } else { $ok = $false; Write-Host 'dotnet test printed no summary' }
    if ($code -ne 0) { $ok = $false }
    Write-Host "$passed passed, $failed failed"
    if (-not $ok -or $failed -gt 0) { exit 1 }
}

switch ($Target) {
    'bootstrap' { Invoke-Bootstrap -DryRun:$DryRun }
    'native' { Invoke-Native $NativeDir @() }
    'bindings' { Invoke-Bindings }
    'build' { Invoke-Build }
    'pack' {
        Invoke-Bootstrap
        Invoke-Build
        Invoke-Pack
    }
    'test' {
        Invoke-Bootstrap
        Invoke-Native $NativeDir @()
        Invoke-Native $AsanDir @('-DFT5_SANITIZE=ON')
        Invoke-Build
        Invoke-Test
    }
    'bench' {
        Invoke-Bootstrap -Extra $BenchPackages
        Invoke-Build
        Invoke-Step 'benchmarks' { & dotnet run --project (Join-Path $Root 'bench/FlanT5.Poplar.Bench') -c Release -- @Rest }
    }
    'finetune' {
        Invoke-Bootstrap
        Invoke-Build
        Invoke-Step 'flant5 finetune' { & dotnet (Join-Path $Root "src/FlanT5.Poplar.Cli/bin/$Configuration/net10.0/flant5.dll") finetune @Rest }
    }
    'ci' {
        Invoke-Bootstrap
        Invoke-Native $NativeDir @()
        Invoke-Native $AsanDir @('-DFT5_SANITIZE=ON')
        Invoke-Build
        Invoke-Step 'bindings are up to date' {
            & dotnet run --project (Join-Path $Root 'tools/FlanT5.BindGen') -c $Configuration --no-build -- `
                --header (Join-Path $Root 'native/include/ft5/ft5.h') `
                --output (Join-Path $Root 'src/FlanT5.Poplar.Interop/Generated') --check
        }
        Invoke-Test
    }
}
