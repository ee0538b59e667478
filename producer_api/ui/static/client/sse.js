export class SseParser {
    decoder = new TextDecoder("utf-8", { ignoreBOM: false });
    buffer = "";
    pendingCr = false;
    data = [];
    event = "";
    lastId;
    retryMs;
    feed(chunk) {
        let text = this.decoder.decode(chunk, { stream: true });
        if (text !== "") {
            if (this.pendingCr && text.startsWith("\n"))
                text = text.slice(1);
            this.pendingCr = false;
        }
        this.buffer += text;
        const messages = [];
        for (;;) {
            const cut = this.buffer.search(/[\r\n]/);
            if (cut < 0)
                return messages;
            let sepLength = 1;
            if (this.buffer[cut] === "\r") {
                if (cut + 1 === this.buffer.length)
                    this.pendingCr = true;
                else if (this.buffer[cut + 1] === "\n")
                    sepLength = 2;
            }
            const line = this.buffer.slice(0, cut);
            this.buffer = this.buffer.slice(cut + sepLength);
            const message = this.line(line);
            if (message !== undefined)
                messages.push(message);
        }
    }
    line(line) {
        if (line === "")
            return this.dispatch();
        if (line.startsWith(":"))
            return undefined;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" "))
            value = value.slice(1);
        if (name === "data")
            this.data.push(value);
        else if (name === "id" && !value.includes("\0"))
            this.lastId = value;
        else if (name === "event")
            this.event = value;
        else if (name === "retry" && /^[0-9]+$/.test(value))
            this.retryMs = Number(value);
        return undefined;
    }
    dispatch() {
        const data = this.data;
        const event = this.event;
        this.data = [];
        this.event = "";
        if (data.length === 0)
            return undefined;
        return { data: data.join("\n"), id: this.lastId, event: event || "message" };
    }
}
