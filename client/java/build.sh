#!/usr/bin/env bash
# Compile the Java client (the generated classes in gen/, the client in src/,
# its test runner in test/) with javac against Debian's jars: no Maven, no
# Gradle, nothing downloaded. Usage: build.sh [OUT] (default: client/java/build).
#   OUT/classes    the classes of gen/ and src/ (the client)
#   OUT/test       the classes of test/ (the test runner)
#   OUT/classpath  the runtime class path: java -cp "$(cat OUT/classpath)" ...
# Needs openjdk-17-jdk-headless, libgrpc-java, libprotobuf-java,
# libgoogle-common-protos-java, libnetty-java, libnetty-tcnative-java,
# libnetty-tcnative-jni, libperfmark-java, libguava-java,
# libgeronimo-annotation-1.3-spec-java and liberror-prone-java (see
# client/java/README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here/build}" && cd "${1:-$here/build}" && pwd)"
jars="${STATEHOUSE_JAVA_JARS:-/usr/share/java}"

# What the client runs on: grpc-java over Netty, protobuf-java, google.rpc's
# protos (ErrorInfo, BadRequest, PreconditionFailure), and their dependencies.
runtime=(
  grpc-api grpc-context grpc-core grpc-stub grpc-protobuf grpc-protobuf-lite grpc-netty
  protobuf proto-google-common-protos guava perfmark-api
  netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-codec-socks
  netty-common netty-handler netty-handler-proxy netty-resolver netty-transport netty-tcnative
)
# Compile-time only: @javax.annotation.Generated on the generated stubs, and
# the annotations grpc-java's classes carry.
compile_only=(geronimo-annotation-1.3-spec error-prone-annotations)

classpath=""
for name in "${runtime[@]}"; do
  jar="$jars/$name.jar"
  if [ ! -e "$jar" ]; then
    echo "missing $jar: apt-get install the packages listed in client/java/README.md" >&2
    exit 1
  fi
  classpath="${classpath:+$classpath:}$jar"
done
compile_classpath="$classpath"
for name in "${compile_only[@]}"; do
  compile_classpath="$compile_classpath:$jars/$name.jar"
done

rm -rf "$out/classes" "$out/test" "$out/native"
mkdir -p "$out/classes" "$out/test"

# TLS: Debian's Netty has no ALPN on the JDK's TLS (its JdkAlpn classes are
# patched out), and gRPC needs ALPN, so TLS goes through OpenSSL
# (netty-tcnative). Netty loads the library from the class path under the name
# it expects; Debian installs it as libnetty-tcnative.so, so a copy goes there.
case "$(uname -m)" in
  x86_64) native_arch=x86_64 ;;
  aarch64) native_arch=aarch_64 ;;
  *) native_arch="$(uname -m)" ;;
esac
tcnative="$(ls /usr/lib/*/jni/libnetty-tcnative.so 2>/dev/null | head -n 1 || true)"
if [ -n "$tcnative" ]; then
  mkdir -p "$out/native/META-INF/native"
  cp "$tcnative" "$out/native/META-INF/native/libnetty_tcnative_linux_${native_arch}.so"
  classpath="$classpath:$out/native"
else
  echo "warning: no libnetty-tcnative.so (libnetty-tcnative-jni): TLS will not work" >&2
fi
# The generated classes as they are; the client's own code without a warning.
find "$here/gen" -name '*.java' >"$out/gen-sources.txt"
javac --release 17 -nowarn -encoding UTF-8 -cp "$compile_classpath" -d "$out/classes" @"$out/gen-sources.txt"
find "$here/src" -name '*.java' >"$out/sources.txt"
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -cp "$out/classes:$compile_classpath" -d "$out/classes" @"$out/sources.txt"
find "$here/test" -name '*.java' >"$out/test-sources.txt"
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -cp "$out/classes:$compile_classpath" -d "$out/test" @"$out/test-sources.txt"
echo "$out/classes:$classpath" >"$out/classpath"
echo "built $out/classes and $out/test" >&2
