package io.dmsserve.api;

import io.dmsserve.sampling.Logprobs;
import io.dmsserve.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A token's text and bytes as logprobs report them: the token alone, decoded (partial characters as U+FFFD). */
final class TokenPieces {

    private final Tokenizer tokenizer;

    TokenPieces(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    TokenLogprob logprob(int token, Logprobs logprobs, int textOffset) {
        List<TokenLogprob.Top> top = new ArrayList<>(logprobs.topIds().length);
        for (int i = 0; i < logprobs.topIds().length; i++) {
            int id = logprobs.topIds()[i];
            byte[] bytes = tokenizer.bytesOf(id);
            top.add(new TokenLogprob.Top(text(bytes), logprobs.topLogprobs()[i], unsigned(bytes)));
        }
        byte[] bytes = tokenizer.bytesOf(token);
        return new TokenLogprob(text(bytes), logprobs.logprob(), unsigned(bytes), top, textOffset);
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static int[] unsigned(byte[] bytes) {
        int[] out = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = bytes[i] & 0xff;
        }
        return out;
    }
}
