# System packages for the build and the tests, and the decision of how to install them.
# Dot-sourced by build.ps1; the tests dot-source it too and check the exact commands for every case.

# Debian packages: compiler, CMake, OpenBLAS, GoogleTest, sentencepiece's spm_encode, and Open MPI (mpirun and its
# headers: several instances of one run are launched by mpirun, or by poprun, which starts mpirun underneath).
$BootstrapPackages = @('cmake', 'g++', 'make', 'libopenblas-dev', 'libgtest-dev', 'sentencepiece', 'openmpi-bin', 'libopenmpi-dev')
# The benchmarks' side-by-side peer: PyTorch for /usr/bin/python3 (torch_t5.py bench).
$BenchPackages = @('python3-torch')

function Test-DebPackage([string]$Name) {
    $status = & dpkg-query -W -f '${Status}' $Name 2>$null
    return ($LASTEXITCODE -eq 0) -and ($status -like '*install ok installed*')
}

# The packages of $Required that $IsInstalled (a script block taking a name) says are absent, in order.
function Get-MissingPackages([string[]]$Required, [scriptblock]$IsInstalled) {
    return ,@($Required | Where-Object { -not (& $IsInstalled $_) })
}

# The commands bootstrap runs, each an argument list: none when nothing is missing, apt-get as root,
# `sudo apt-get` for another user, and an error naming the packages when there is no sudo.
function Get-BootstrapCommands([string[]]$Missing, [bool]$IsRoot, [bool]$HasSudo) {
    if ($Missing.Count -eq 0) { return ,@() }
    $prefix = @()
    if (-not $IsRoot) {
        if (-not $HasSudo) { throw "bootstrap: need root (or sudo) to install: $($Missing -join ' ')" }
        $prefix = @('sudo')
    }
    return @(
        , ($prefix + @('apt-get', 'update', '-qq'))
        , ($prefix + @('apt-get', 'install', '-y', '-qq', '--no-install-recommends') + $Missing)
    )
}

# Installs what is missing of $BootstrapPackages and $Extra; with -DryRun prints `would run: …` for each command
# instead.
function Invoke-Bootstrap([switch]$DryRun, [string[]]$Extra = @()) {
    $required = @($BootstrapPackages) + @($Extra)
    if (-not (Get-Command dpkg-query -ErrorAction SilentlyContinue)) {
        Write-Host "bootstrap: not a Debian-based system; install $($required -join ', ') yourself."
        return
    }
    $missing = Get-MissingPackages $required ${function:Test-DebPackage}
    $isRoot = (& id -u) -eq '0'
    $hasSudo = [bool](Get-Command sudo -ErrorAction SilentlyContinue)
    $commands = Get-BootstrapCommands $missing $isRoot $hasSudo
    if ($commands.Count -eq 0) { Write-Host 'bootstrap: all system packages present.'; return }
    Write-Host "bootstrap: installing $($missing -join ', ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    foreach ($command in $commands) {
        $text = $command -join ' '
        if ($DryRun) { Write-Host "would run: $text"; continue }
        $program, $arguments = $command
        Write-Host "==> $text" -ForegroundColor Cyan
        & $program @arguments
        if ($LASTEXITCODE -ne 0) { throw "bootstrap: '$text' failed with exit code $LASTEXITCODE" }
    }
}
